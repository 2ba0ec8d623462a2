"""The net layer raises its own errors; each caller maps them at its boundary."""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from syncd.config import CityConfig, Duration, HttpConfig, SourceConfig, TargetConfig
from syncd.errors import FetchError, NetError, RetryAfter, RetryLater, SourceError
from syncd.net.download import download
from syncd.net.http import PoliteClient
from syncd.sources import SourceState
from syncd.sources.feed import FeedSource
from tests.support.loopback import LoopbackServer, Reply

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def answer(status: int, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, headers=headers))


def test_client_failures_are_net_errors_not_source_errors() -> None:
    http = PoliteClient(
        HttpConfig(host_delay=Duration(0), allow_private=True), transport=answer(500)
    )
    with closing(http), pytest.raises(NetError) as info:
        http.get("wp-images", "https://partner.example/a.png")
    assert not isinstance(info.value, SourceError)
    assert (info.value.who, info.value.url, info.value.reason) == (
        "wp-images",
        "https://partner.example/a.png",
        "HTTP 500",
    )


def test_retry_after_carries_the_delay() -> None:
    http = PoliteClient(
        HttpConfig(host_delay=Duration(0), allow_private=True),
        transport=answer(429, {"Retry-After": "120"}),
        clock=lambda: NOW,
    )
    with closing(http), pytest.raises(RetryAfter) as info:
        http.get("x", "https://partner.example/feed")
    assert info.value.delay == timedelta(seconds=120)
    assert not isinstance(info.value, SourceError)


def feed_source(transport: httpx.MockTransport) -> tuple[FeedSource, PoliteClient]:
    http = PoliteClient(
        HttpConfig(host_delay=Duration(0), allow_private=True),
        transport=transport,
        clock=lambda: NOW,
    )
    city = CityConfig("dueren", "Düren", "de", "Europe/Berlin", (), TargetConfig("outbox"))
    src = SourceConfig("presse", "feed", Duration(minutes=15), url="https://d.example/rss")
    return FeedSource(src, city, http), http


@pytest.mark.parametrize(
    ("transport", "expected", "cause", "message"),
    [
        (answer(503, {"Retry-After": "60"}), RetryLater, RetryAfter, "HTTP 503, Retry-After 60s"),
        (answer(500), FetchError, NetError, "HTTP 500"),
    ],
)
def test_a_source_maps_net_errors_to_its_own_with_the_cause_chained(
    transport: httpx.MockTransport,
    expected: type[FetchError],
    cause: type[NetError],
    message: str,
) -> None:
    src, http = feed_source(transport)
    with closing(http), pytest.raises(expected) as info:
        src.fetch(SourceState())
    assert info.value.source_id == "presse"
    assert str(info.value) == f"https://d.example/rss: {message}"
    assert type(info.value.__cause__) is cause
    if isinstance(info.value, RetryLater):
        assert info.value.delay == timedelta(seconds=60)


def test_targets_import_nothing_from_sources() -> None:
    code = (
        "import sys, syncd.targets.wordpress, syncd.targets.webhook, syncd.targets.outbox;"
        "print(sorted(m for m in sys.modules if m.startswith('syncd.sources')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_download_writes_at_most_the_cap_and_says_why_it_stopped(server: LoopbackServer) -> None:
    # no Content-Length: the cap is found while streaming
    server.routes["/big"] = lambda req: Reply(200, iter([b"x" * 1000] * 10))
    server.routes["/ok"] = lambda req: Reply(200, b"package")
    out = io.BytesIO()
    with pytest.raises(NetError, match="more than the limit of 2500 bytes") as info:
        download(server.url + "/big", out, timeout=5, max_bytes=2500)
    assert info.value.url == server.url + "/big"
    assert len(out.getvalue()) <= 2500
    out = io.BytesIO()
    assert download(server.url + "/ok", out, timeout=5, max_bytes=2500) == 7
    assert out.getvalue() == b"package"
    with pytest.raises(NetError, match="^http://.*/missing: HTTP 404$"):
        download(server.url + "/missing", io.BytesIO(), timeout=5, max_bytes=2500)
