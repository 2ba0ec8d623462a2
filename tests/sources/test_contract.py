"""The ``Source`` contract, run against every source kind (as the target contract
runs against every target kind): what the pipeline may rely on, whatever the kind.

- every item has a non-empty key unique in its result, the source's id, UTC-aware
  datetimes (or None) and sanitized HTML (no script, no ``on*`` handler, no
  ``javascript:``), even when the site serves hostile markup;
- for bad answers (HTTP 500, a garbage body, a timeout) only ``SourceError``
  subclasses escape ``fetch``;
- kinds that fetch conditionally turn a 304 into ``not_modified`` with no items;
- ``acknowledge`` after a fetch says its items are recorded: pushed items are consumed
  (``inbound``), article pages are remembered (``html``, ``jpage``: an unchanged
  article gives no item again, in this process or the next); a fetch *without* it
  loses nothing; a feed is not affected.

Each kind is served by the fixture sites on a loopback server (tests/sources/sites.py);
sources are made through ``make_app`` as the daemon makes them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.app import App, make_app
from syncd.errors import SourceError
from syncd.kinds import TABLE, Service
from syncd.models import Item
from syncd.sources import FetchResult, Source, SourceState
from syncd.store import Store
from tests.sources.sites import (
    DUEREN_DETAIL,
    DUEREN_LIST,
    DUEREN_OPTIONS,
    JINHUA_COL,
    JINHUA_OPTIONS,
    NOW,
    Clock,
    dueren_site,
    html,
    jinhua_site,
    load,
    read,
    source,
)
from tests.support.feeds import Entry, rss
from tests.support.frontdoor import FrontDoor
from tests.support.loopback import LoopbackServer, Reply, Request
from tests.support.translator import FakeTranslator

#: markup no item may carry, whatever a site serves
HOSTILE = (
    '<p onclick="steal()">Böse<script>alert("x")</script></p>'
    '<img src="https://example.org/a.png" onerror="alert(1)">'
    '<a href="javascript:alert(2)">Link</a><iframe src="https://evil.example/"></iframe>'
)
_ON_ATTR = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
ETAG = '"v1"'
PUSH_KEY = b"partner-shared-secret-0123456789"


def conditional(handler: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
    """``handler`` behind an ETag: 304 when the client already has it."""

    def serve(req: Request) -> Reply:
        if req.headers.get("if-none-match") == ETAG:
            return Reply(304, b"", {"ETag": ETAG})
        reply = handler(req)
        return Reply(reply.status, reply.body, {**reply.headers, "ETag": ETAG})

    return serve


# ------------------------------------------------------------------------------ kinds


@dataclass
class Site:
    """One kind served on loopback: ``table`` is its source config, ``main`` the path
    a bad answer replaces (the feed, the list page); None for pushed kinds."""

    kind: str
    city: str
    table: dict[str, Any]
    main: str | None
    conditional: bool
    serve: Callable[[LoopbackServer], None]
    push: Callable[[App, Site], None] = lambda app, site: None
    servers: list[Any] = field(default_factory=list)


def feed_site(server: LoopbackServer) -> Site:
    entries = [
        Entry("zoned", "Mit Zone.", HOSTILE, "https://www.dueren.example/1"),
        Entry("local", "Ohne Zone.", "<p>Lokal.</p>", pub="Wed, 25 Nov 2026 10:00:00 -0000"),
        Entry("undated", "Ohne Datum.", "<p>Kein Datum.</p>", pub=None),
    ]

    def serve(s: LoopbackServer) -> None:
        s.routes["/feed.xml"] = conditional(
            lambda req: Reply(200, rss(entries), {"Content-Type": "application/rss+xml"})
        )

    table = {"id": "c-feed", "kind": "feed", "url": server.url + "/feed.xml"}
    return Site("feed", "dueren", table, "/feed.xml", True, serve)


def html_site(server: LoopbackServer) -> Site:
    def serve(s: LoopbackServer) -> None:
        dueren_site(s)
        # the fixture article already carries hostile markup; one more, inside the body
        page = read("dueren/radwege.html").replace('itemprop="articleBody">',
                                                   f'itemprop="articleBody">{HOSTILE}')  # fmt: skip
        s.routes[DUEREN_DETAIL + "neue-radwege-in-der-innenstadt"] = html(page)
        s.routes[DUEREN_LIST] = conditional(html(read("dueren/list.html")))

    table = {"id": "c-html", "kind": "html", "url": server.url + DUEREN_LIST, **DUEREN_OPTIONS}
    return Site("html", "dueren", table, DUEREN_LIST, True, serve)


def jpage_site(server: LoopbackServer) -> Site:
    article = "/art/2024/3/22/art_1229160587_60291234.html"

    def serve(s: LoopbackServer) -> None:
        jinhua_site(s)
        page = read("jinhua/art_60291234.html").replace(
            '<meta name="ContentStart">', f'<meta name="ContentStart">{HOSTILE}'
        )
        s.routes[article] = html(page)
        s.routes[JINHUA_COL] = conditional(html(read("jinhua/col.html")))

    table = {"id": "c-jpage", "kind": "jpage", "url": server.url + JINHUA_COL, **JINHUA_OPTIONS}
    return Site("jpage", "jinhua", table, JINHUA_COL, True, serve)


def inbound_site(server: LoopbackServer) -> Site:
    docs = [
        {"key": "zoned", "title": "有时区", "body_html": HOSTILE,
         "published": "2024-03-22T10:00:00+08:00"},
        {"key": "local", "title": "本地时间", "body_html": "<p>本地。</p>",
         "published": "2024-03-22T10:00:00"},
        {"key": "undated", "title": "无日期", "body_html": "<p>无日期。</p>"},
    ]  # fmt: skip

    def push(app: App, site: Site) -> None:
        cfg, city = source(app.config, site.table["id"])
        endpoint = FrontDoor(app.config, app.store, app.clock)
        site.servers.append(endpoint)
        endpoint.start()
        for n, doc in enumerate(docs):
            body = json.dumps(doc, ensure_ascii=False).encode()
            msg_id, stamp = f"msg_{n}", int(NOW.timestamp())
            mac = hmac.new(PUSH_KEY, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256)
            conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=5)
            try:
                conn.request("POST", f"/inbound/{cfg.id}", body=body, headers={
                    "Content-Type": "application/json", "webhook-id": msg_id,
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
                })  # fmt: skip
                assert conn.getresponse().status == 202
            finally:
                conn.close()

    table = {"id": "c-inbound", "kind": "inbound",
             "secret": {"env": "SYNCD_TEST_CONTRACT_PUSH"}}  # fmt: skip
    return Site("inbound", "jinhua", table, None, False, lambda s: None, push)


SITES: dict[str, Callable[[LoopbackServer], Site]] = {
    "feed": feed_site,
    "html": html_site,
    "jpage": jpage_site,
    "inbound": inbound_site,
}
#: kinds that fetch over HTTP (bad answers apply) and those that fetch conditionally
FETCHING = ["feed", "html", "jpage"]
CONDITIONAL = ["feed", "html", "jpage"]


def test_every_source_kind_is_under_contract() -> None:
    """A new kind cannot skip the contract: it needs a fixture site here."""
    assert sorted(SITES) == sorted(TABLE.sources)


# ---------------------------------------------------------------------------- harness


@dataclass
class Case:
    site: Site
    app: App
    source: Source
    server: LoopbackServer


@pytest.fixture
def open_case(
    tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Case]]:
    """Makes a Case for a kind (optionally on a given transport); closes it after."""
    monkeypatch.setenv("SYNCD_TEST_CONTRACT_PUSH", "whsec_" + base64.b64encode(PUSH_KEY).decode())
    opened: list[tuple[Case, Store]] = []

    def make(kind: str, transport: httpx.BaseTransport | None = None) -> Case:
        site = SITES[kind](server)
        site.serve(server)
        config = load(tmp_path, (site.city, {**site.table}), http={"respect_robots": False})
        store = Store(f"sqlite:///{tmp_path}/state-{len(opened)}.db")
        app = make_app(config, store=store, translator=FakeTranslator(), transport=transport,
                       clock=Clock(), rand=lambda: 0.0)  # fmt: skip
        case = Case(site, app, app.source(site.table["id"]), server)
        opened.append((case, store))
        site.push(app, site)
        return case

    yield make
    for case, store in opened:
        for endpoint in case.site.servers:
            endpoint.stop()
        case.app.close()
        store.close()


def assert_contract_items(result: FetchResult, source_id: str) -> None:
    assert result.items, "the fixture site has items"
    keys = [i.key for i in result.items]
    assert len(set(keys)) == len(keys)
    for item in result.items:
        assert isinstance(item, Item) and item.source_id == source_id
        assert item.key.strip(), item
        if item.published is not None:
            assert item.published.utcoffset() == timedelta(0), (item.key, item.published)
        body = item.body_html.lower()
        assert "<script" not in body and "javascript:" not in body and "<iframe" not in body
        assert not _ON_ATTR.search(item.body_html), (item.key, item.body_html)
        assert "<" not in item.title and "<script" not in item.summary.lower()


# ------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("kind", sorted(SITES))
def test_items_are_keyed_utc_and_sanitized(kind: str, open_case: Callable[..., Case]) -> None:
    case = open_case(kind)
    result = case.source.fetch(SourceState())
    assert_contract_items(result, case.site.table["id"])
    assert not result.not_modified
    # the hostile markup the site served did arrive, cleaned
    assert any("Böse" in i.body_html for i in result.items)
    if kind in ("feed", "inbound"):  # these fixtures carry a zoned, a local and no date
        dates = {i.key: i.published for i in result.items}
        assert dates["undated"] is None and dates["zoned"] is not None
        assert dates["local"] is not None


@pytest.mark.parametrize("kind", FETCHING)
@pytest.mark.parametrize(
    "answer",
    [
        Reply(500, b"<h1>Internal Server Error</h1>", {"Content-Type": "text/html"}),
        Reply(
            200, b"\x89PNG\r\n\x1a\n\x00\xff\xfe garbage \x00" * 40, {"Content-Type": "text/html"}
        ),
        Reply(200, b"", {"Content-Type": "text/html; charset=utf-8"}),
    ],
    ids=["500", "garbage", "empty"],
)
def test_a_bad_answer_is_a_source_error(
    kind: str, answer: Reply, open_case: Callable[..., Case]
) -> None:
    case = open_case(kind)
    assert case.site.main is not None
    case.server.routes[case.site.main] = lambda req: answer
    with pytest.raises(SourceError) as caught:
        case.source.fetch(SourceState())
    assert caught.value.source_id == case.site.table["id"]


@pytest.mark.parametrize("kind", FETCHING)
def test_a_timeout_is_a_source_error(kind: str, open_case: Callable[..., Case]) -> None:
    def never_answers(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    case = open_case(kind, transport=httpx.MockTransport(never_answers))
    with pytest.raises(SourceError) as caught:
        case.source.fetch(SourceState())
    assert caught.value.source_id == case.site.table["id"]
    assert caught.value.__cause__ is not None  # the library's error is chained


@pytest.mark.parametrize("kind", CONDITIONAL)
def test_a_304_is_not_modified(kind: str, open_case: Callable[..., Case]) -> None:
    case = open_case(kind)
    assert case.site.conditional
    first = case.source.fetch(SourceState())
    assert first.etag == ETAG and first.items
    again = case.source.fetch(SourceState(etag=first.etag, last_modified=first.last_modified))
    assert again.not_modified and again.items == ()
    assert again.etag == ETAG  # kept for the next conditional request


@pytest.mark.parametrize("kind", sorted(SITES))
def test_acknowledge_consumes_pushed_items_and_is_harmless_elsewhere(
    kind: str, open_case: Callable[..., Case]
) -> None:
    case = open_case(kind)
    first = case.source.fetch(SourceState())
    # not acknowledged (a crash before the items were recorded): nothing is lost
    again = case.source.fetch(SourceState())
    assert [i.key for i in again.items] == [i.key for i in first.items]
    case.source.acknowledge(again)
    after = case.source.fetch(SourceState())
    if TABLE.source(kind).pushed or Service.PAGES in TABLE.source(kind).needs:
        assert after.items == ()
    else:
        assert [i.key for i in after.items] == [i.key for i in first.items]
