"""Politeness is kept per site (host name and port), never per address (issue 12,
item 8): two origins on one address keep their own pace; one site is one site
whatever scheme reaches it."""

from __future__ import annotations

from syncd.config import Duration, HttpConfig
from syncd.net.http import PoliteClient, site_of
from tests.support.loopback import Reply, serve


def test_site_is_host_and_port_never_the_address() -> None:
    assert site_of("https://WWW.Dueren.de/a") == "www.dueren.de"
    assert site_of("http://www.dueren.de:80/a") == site_of("https://www.dueren.de:443/b")
    assert site_of("http://127.0.0.1:8001/") == "127.0.0.1:8001"
    assert site_of("http://127.0.0.1:8001/") != site_of("http://127.0.0.1:8002/")
    assert site_of("http://[::1]:8080/x") == "::1:8080"


def test_two_sites_on_one_address_keep_their_own_delay() -> None:
    waits: list[float] = []
    client = PoliteClient(
        HttpConfig(allow_private=True, host_delay=Duration(seconds=30), respect_robots=False),
        sleep=waits.append,
    )
    try:
        with serve() as a, serve() as b:  # 127.0.0.1, two ports: two sites
            a.routes["/x"] = b.routes["/x"] = lambda req: Reply(200, b"ok")
            client.get("t", a.url + "/x")
            client.get("t", b.url + "/x")
            assert waits == []  # the second site did not wait for the first
            client.get("t", a.url + "/x")
            assert len(waits) == 1 and 29 < waits[0] <= 30  # the same site again: it waits
    finally:
        client.close()
