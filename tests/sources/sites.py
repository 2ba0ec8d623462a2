"""Fixture sites on a loopback server that imitate the two cities' portals.

Contains no business logic: routes a ``LoopbackServer`` to the files in
``fixtures/`` (a TYPO3-news-style press list for Düren, a Hanweb JCMS column with a
dataproxy second page for Jinhua) and builds validated source configs for them.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncd import config as cfgmod
from syncd.config import CityConfig, Config, Duration, HttpConfig, SourceConfig
from syncd.errors import ConfigError
from syncd.kinds import TABLE
from syncd.net.http import PoliteClient
from syncd.store import Store
from tests.support.loopback import LoopbackServer, Reply, Request

FIX = Path(__file__).parent / "fixtures"
NOW = datetime(2024, 3, 22, 12, 0, tzinfo=UTC)

DUEREN_LIST = "/verwaltung-politik/pressemitteilungen"
DUEREN_DETAIL = DUEREN_LIST + "/detail/"
DUEREN_ARTICLES = {
    "neue-radwege-in-der-innenstadt": "radwege.html",
    "stadtbibliothek-oeffnungszeiten": "bibliothek.html",
    "strassensperrung": "sperrung.html",
    "haushalt-2024": "haushalt.html",
}
#: html-kind options for the Düren press list (TYPO3 news extension markup)
DUEREN_OPTIONS: dict[str, Any] = {
    "item": ".news-list-view .article",
    "link": ".header a",
    "title": "[itemprop=headline]",
    "date": ".news-list-date",
    "teaser": ".teaser-text [itemprop=description]",
    "next_page": ".f3-widget-paginator .next a",
    "pages": 2,
    "body": ".news-text-wrap",
    "remove": [".social-share", "script"],
    "allow": "/pressemitteilungen/detail/",
    "date_formats": ["%d.%m.%Y"],
    "min_body": 100,
}

JINHUA_COL = "/col/col1229160587/index.html"
JINHUA_PROXY = "/module/jpage/dataproxy.jsp"
JINHUA_ARTICLES = {
    "/art/2024/3/22/art_1229160587_60291234.html": ("art_60291234.html", None),
    "/art/2024/3/21/art_1229160587_60291200.html": ("art_60291200.html", None),
    "/art/2024/3/20/art_1229160587_60291150.html": ("art_60291150.gbk.html", "gb18030"),
    "/art/2024/3/19/art_1229160587_60291100.html": ("art_60291100.html", None),
}
JINHUA_OPTIONS: dict[str, Any] = {"pages": 2, "per_page": 2}


def read(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def html(
    text: str,
    *,
    encoding: str = "utf-8",
    ctype: str | None = "text/html; charset=utf-8",
    status: int = 200,
    **headers: str,
) -> Callable[[Request], Reply]:
    """A handler answering ``text`` encoded as ``encoding`` with that Content-Type."""
    body = text.encode(encoding)
    hdrs = dict(headers)
    if ctype:
        hdrs["Content-Type"] = ctype
    return lambda req: Reply(status, body, hdrs)


def dueren_site(server: LoopbackServer, list_file: str = "dueren/list.html") -> None:
    server.routes[DUEREN_LIST] = html(read(list_file))
    server.routes[DUEREN_LIST + "/seite-2"] = html(read("dueren/list-2.html"))
    for slug, name in DUEREN_ARTICLES.items():
        server.routes[DUEREN_DETAIL + slug] = html(read(f"dueren/{name}"))


def jinhua_site(server: LoopbackServer) -> list[dict[str, str]]:
    """Routes the Jinhua column; returns the list that collects dataproxy form posts."""
    posts: list[dict[str, str]] = []
    server.routes[JINHUA_COL] = html(read("jinhua/col.html"))
    proxy = read("jinhua/proxy.xml").encode()

    def dataproxy(req: Request) -> Reply:
        posts.append(
            dict(urllib.parse.parse_qsl(req.body.decode())) | {"?": req.path.split("?", 1)[1]}
        )
        return Reply(200, proxy, {"Content-Type": "text/xml;charset=UTF-8"})

    server.routes[JINHUA_PROXY] = dataproxy
    for path, (name, enc) in JINHUA_ARTICLES.items():
        if enc:  # declared in the page only (meta gb2312), like old Chinese sites
            server.routes[path] = html(read(f"jinhua/{name}"), encoding=enc, ctype="text/html")
        else:
            server.routes[path] = html(read(f"jinhua/{name}"))
    return posts


def load(
    tmp_path: Path,
    *sources: tuple[str, dict[str, Any]],
    http: dict[str, Any] | None = None,
) -> Config:
    """A validated two-city config; ``sources`` are (city id, source table) pairs."""
    by_city: dict[str, list[dict[str, Any]]] = {"dueren": [], "jinhua": []}
    for city, table in sources:
        by_city[city].append({"interval": "15m", "jitter": 0.0, **table})
    data = {
        "http": {"allow_private": True, "host_delay": "0s", "timeout": "5s", **(http or {})},
        "cities": [
            {
                "id": "dueren",
                "name": "Düren",
                "language": "de",
                "timezone": "Europe/Berlin",
                "sources": by_city["dueren"],
                "target": {"kind": "outbox", "path": "drafts/dueren"},
            },
            {
                "id": "jinhua",
                "name": "金华",
                "language": "zh",
                "timezone": "Asia/Shanghai",
                "sources": by_city["jinhua"],
                "target": {"kind": "outbox", "path": "drafts/jinhua"},
            },
        ],
        "partnerships": [{"cities": ["dueren", "jinhua"]}],
        # inbound sources are served on the front door (tests start it on port 0)
        "web": {"listen": "127.0.0.1:0"},
    }
    return cfgmod.parse(data, tmp_path / "syncd.toml", kinds=TABLE)


def source(config: Config, source_id: str) -> tuple[SourceConfig, CityConfig]:
    for city, s in config.sources():
        if s.id == source_id:
            return s, city
    raise KeyError(source_id)


class Clock:
    """A settable clock for the client (revisits, robots.txt cache)."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


#: clients made by ``client``; tests/sources/conftest.py closes them after each test
OPEN_CLIENTS: list[PoliteClient] = []
#: stores made by ``memory``; closed after each test as well
OPEN_STORES: list[Store] = []


def memory(tmp_path: Path) -> Store:
    """A real store on a SQLite file in ``tmp_path``: what page sources remember."""
    s = Store(f"sqlite:///{tmp_path}/state.db")
    OPEN_STORES.append(s)
    return s


def client(
    config: HttpConfig | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> PoliteClient:
    c = PoliteClient(
        config
        or HttpConfig(allow_private=True, host_delay=Duration(0), timeout=Duration(seconds=5)),
        clock=clock or Clock(),
        **({"sleep": sleep} if sleep else {}),
    )
    OPEN_CLIENTS.append(c)
    return c


def config_error(tmp_path: Path, city: str, table: dict[str, Any]) -> ConfigError:
    """The error that loading a config with this one source raises."""
    try:
        load(tmp_path, (city, table))
    except ConfigError as exc:
        return exc
    raise AssertionError(f"{table} was accepted")
