"""A site that walls every path, robots.txt included, is an alert (issue 12, item 2):
the same alert as a walled page, zero items, and no cookie ever sent back."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.errors import FetchError, SourceAlert
from syncd.sources import SourceState
from syncd.sources.jpage import make
from tests.sources.sites import JINHUA_COL, JINHUA_OPTIONS, client, jinhua_site, load, source
from tests.support.loopback import LoopbackServer, Reply, Request

#: what 加速乐 answers on every path: HTTP 521 and a script that builds a cookie
JSL = (
    b"<script>document.cookie=('_')+('_')+('jsl_clearance_s=1711');"
    b"location.href=location.pathname+location.search</script>"
)


def challenge(req: Request) -> Reply:
    return Reply(521, JSL, {"Set-Cookie": "__jsluid_s=abc; path=/; HttpOnly"})


def fetch(tmp_path: Path, server: LoopbackServer) -> None:
    table = {"id": "jinhua-news", "kind": "jpage", "url": server.url + JINHUA_COL}
    src, city = source(load(tmp_path, ("jinhua", {**table, **JINHUA_OPTIONS})), "jinhua-news")
    make(src, city, client()).fetch(SourceState())


def test_a_challenge_on_robots_txt_is_the_same_alert_as_on_a_page(
    tmp_path: Path, server: LoopbackServer
) -> None:
    jinhua_site(server)
    server.routes[JINHUA_COL] = challenge  # robots.txt is a plain 404 here
    with pytest.raises(SourceAlert) as on_page:
        fetch(tmp_path, server)
    assert (
        on_page.value.reason
        == "interactive verification required; not bypassed (HTTP 521 challenge)"
    )
    server.requests.clear()

    server.routes["/robots.txt"] = challenge  # now every path is walled
    with pytest.raises(SourceAlert) as on_robots:
        fetch(tmp_path, server)
    assert on_robots.value.reason == on_page.value.reason
    assert on_robots.value.url == server.url + "/robots.txt"
    # robots.txt was the only request (nothing is fetched without it), asked without
    # a cookie though the challenge set one
    assert [r.path for r in server.requests] == ["/robots.txt"]
    # asked again on the next poll (a 5xx robots.txt is not cached), still no cookie
    with pytest.raises(SourceAlert):
        fetch(tmp_path, server)
    assert [r.path for r in server.requests] == ["/robots.txt"] * 2
    assert all("cookie" not in r.headers for r in server.requests)


def test_a_plain_server_error_on_robots_txt_stays_an_error(
    tmp_path: Path, server: LoopbackServer
) -> None:
    jinhua_site(server)
    server.routes["/robots.txt"] = lambda req: Reply(
        500, b"<html><body>Internal error</body></html>"
    )
    with pytest.raises(FetchError) as info:
        fetch(tmp_path, server)
    assert "robots.txt unavailable (HTTP 500)" in str(info.value)
