"""A feed source on a loopback server with a polite client made for tests. Contains no
business logic; the clients made here are closed by the suite after each test."""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.config import CityConfig, Duration, HttpConfig, SourceConfig, TargetConfig
from syncd.net.http import PoliteClient
from syncd.sources.feed import FeedSource, Options
from tests.support.loopback import LoopbackServer

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

_clients: list[PoliteClient] = []


def http_config(**kw: object) -> HttpConfig:
    base: dict[str, object] = {
        "allow_private": True,
        "host_delay": Duration(0),
        "timeout": Duration(seconds=5),
    }
    base.update(kw)
    return HttpConfig(**base)  # type: ignore[arg-type]


def client(**http_kw: object) -> PoliteClient:
    c = PoliteClient(http_config(**http_kw), clock=lambda: NOW)
    _clients.append(c)
    return c


def close_clients() -> None:
    while _clients:
        _clients.pop().close()


def feed(
    server: LoopbackServer, path: str, tz: str = "Europe/Berlin", **http_kw: object
) -> FeedSource:
    city = CityConfig("dueren", "Düren", "de", tz, (), TargetConfig("outbox"))
    src = SourceConfig("s1", "feed", Duration(minutes=15), url=server.url + path, options=Options())
    return FeedSource(src, city, client(**http_kw))
