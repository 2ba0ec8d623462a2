"""One article, one item per city, one draft per partner (issue 12, item 4): Düren's
press page (``html``) and its feed bring the same articles; whichever brings one
first holds it, the other enriches it, and Jinhua gets one draft per article."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syncd.app import App, make_app
from syncd.identity import city_key, enrich
from syncd.intents import NewDelivery, NewItem, PollIntent, SourcePolled
from syncd.models import Item
from syncd.store import Store
from syncd.sync import deliver, poll
from tests.sources.sites import (
    DUEREN_DETAIL,
    DUEREN_LIST,
    DUEREN_OPTIONS,
    NOW,
    Clock,
    dueren_site,
    load,
)
from tests.support.feeds import Entry, rss
from tests.support.loopback import LoopbackServer, Reply
from tests.support.translator import FakeTranslator

SLUGS = {
    "neue-radwege-in-der-innenstadt": "Neue Radwege in der Innenstadt",
    "stadtbibliothek-oeffnungszeiten": "Stadtbibliothek verlängert Öffnungszeiten",
    "strassensperrung": "Kurz notiert: Straßensperrung",
    "haushalt-2024": "Haushalt 2024 beschlossen",
}
PUB = "Fri, 22 Mar 2024 09:00:00 +0100"


def feed_entries(server: LoopbackServer, link: str) -> list[Entry]:
    """The press releases as Düren's feed has them: guid news-<slug>, a short teaser
    as body, a category the page does not show."""
    out = []
    for slug, title in SLUGS.items():
        url = {
            "detail": server.url + DUEREN_DETAIL + slug + "?utm_source=rss",
            "other": f"{server.url}/index.php?id=77&news={slug}",
        }[link]
        if link == "detail" and slug == "neue-radwege-in-der-innenstadt":
            url = server.url + DUEREN_DETAIL + slug + "?cHash=8a1f3c&utm_medium=rss"
        out.append(Entry(f"news-{slug}", title, "<p>Kurz.</p>", url, PUB, ["Verkehr"]))
    return out


@pytest.fixture
def app_for(tmp_path: Path) -> Iterator[Any]:
    made: list[tuple[App, Store]] = []

    def build(*sources: dict[str, Any]) -> App:
        cfg = load(tmp_path, *(("dueren", s) for s in sources))
        store = Store(f"sqlite:///{tmp_path}/state.db")
        app = make_app(
            cfg, store=store, translator=FakeTranslator([("de", "zh"), ("zh", "de")]),
            clock=Clock(NOW), rand=lambda: 0.0,
        )  # fmt: skip
        made.append((app, store))
        return app

    yield build
    for app, store in made:
        app.close()
        store.close()


def html_source(server: LoopbackServer, **extra: Any) -> dict[str, Any]:
    return {"id": "dueren-presse", "kind": "html", "url": server.url + DUEREN_LIST,
            **DUEREN_OPTIONS, **extra}  # fmt: skip


def feed_source(server: LoopbackServer, **extra: Any) -> dict[str, Any]:
    return {"id": "dueren-feed", "kind": "feed", "url": server.url + "/news.xml", **extra}


def drafts(tmp_path: Path) -> list[dict[str, Any]]:
    folder = tmp_path / "drafts" / "jinhua"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def serve_feed(server: LoopbackServer, entries: list[Entry]) -> None:
    server.routes["/news.xml"] = lambda req: Reply(
        200, rss(entries), {"Content-Type": "application/rss+xml"}
    )


def test_page_first_then_feed_one_draft_each_enriched_by_the_feed(
    tmp_path: Path, server: LoopbackServer, app_for: Any
) -> None:
    dueren_site(server)
    serve_feed(server, feed_entries(server, "detail"))
    app = app_for(html_source(server), feed_source(server))
    assert poll(app, "dueren-presse").new == 4
    feed = poll(app, "dueren-feed")
    assert feed.ok and feed.new == 0  # all four are the page's items: canonical URLs agree
    deliver(app)
    got = drafts(tmp_path)
    assert sorted(d["original_title"] for d in got) == sorted(SLUGS.values())
    assert {d["source_id"] for d in got} == {"dueren-presse"}  # the first to bring it holds it
    # the feed enriched what the page lacked: its categories
    assert all(d["categories"] == ["Verkehr"] for d in got)
    # a second pass: nothing new, nothing changed, still one draft per article
    poll(app, "dueren-presse")
    again = poll(app, "dueren-feed")
    assert (again.new, again.changed) == (0, 0)
    deliver(app)
    assert len(drafts(tmp_path)) == 4


def test_feed_first_then_page_the_page_gives_the_fuller_body(
    tmp_path: Path, server: LoopbackServer, app_for: Any
) -> None:
    dueren_site(server)
    serve_feed(server, feed_entries(server, "detail"))
    app = app_for(feed_source(server), html_source(server))
    assert poll(app, "dueren-feed").new == 4
    page = poll(app, "dueren-presse")
    assert page.new == 0 and page.changed >= 1
    deliver(app)
    got = drafts(tmp_path)
    assert len(got) == 4 and {d["source_id"] for d in got} == {"dueren-feed"}
    radwege = next(d for d in got if d["original_title"] == "Neue Radwege in der Innenstadt")
    assert radwege["version"] == 2  # the page's full article replaced the feed's "Kurz."
    assert radwege["images"]  # and brought its image


def test_a_configured_key_mapping_joins_guid_and_detail_url(
    tmp_path: Path, server: LoopbackServer, app_for: Any
) -> None:
    dueren_site(server)
    serve_feed(server, feed_entries(server, "other"))  # links that are not the detail URLs
    app = app_for(
        html_source(server, identity=r"/detail/([a-z0-9-]+)"),
        feed_source(server, identity=r"^news-([a-z0-9-]+)$"),
    )
    poll(app, "dueren-presse")
    assert poll(app, "dueren-feed").new == 0
    deliver(app)
    assert len(drafts(tmp_path)) == 4


def test_without_identity_different_urls_stay_different_items(
    tmp_path: Path, server: LoopbackServer, app_for: Any
) -> None:
    dueren_site(server)
    serve_feed(server, feed_entries(server, "other"))
    app = app_for(html_source(server), feed_source(server))
    poll(app, "dueren-presse")
    assert poll(app, "dueren-feed").new == 4  # nothing says they are the same


def _polled(source_id: str) -> SourcePolled:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    return SourcePolled(source_id, "dueren", at, "ok", at, 0, ok=True)


def test_two_polls_at_once_still_make_one_item(tmp_path: Path) -> None:
    """Two sources polled in parallel both saw the article as new; the store keeps the
    first and records the second as its alias, without deliveries (promise 1)."""
    store = Store(f"sqlite:///{tmp_path}/s.db")
    try:
        for source_id in ("a", "b"):
            item = Item(source_id, f"{source_id}-1", "https://x.example/1", "T")
            new = NewItem(item, item.content_hash(), (NewDelivery("jinhua"),), "url:k")
            store.apply_poll(PollIntent(_polled(source_id), (new,)))
        assert [i.source_id for _d, i in store.deliveries()] == ["a"]
        (alias,) = store.aliases_by_keys("b", ["b-1"]).values()
        assert alias.item_id == store.items_by_keys("a", ["a-1"])["a-1"].id
    finally:
        store.close()


def test_identity_rules() -> None:
    item = Item("s", "news-4711", "https://WWW.Dueren.de/a/detail/x?utm_source=rss#top", "T")
    assert city_key(item) == "url:https://www.dueren.de/a/detail/x"
    assert city_key(item, r"news-(\d+)") == "id:4711"
    assert city_key(item, r"detail/x") == "id:detail/x"
    echo = Item("s", "k", "https://x/1", "T", echo_marker="0123456789abcdef")
    assert city_key(echo) is None  # syncd's own draft coming back is never merged
    short = Item("s", "k", None, "T", summary="Kurz", body_html="<p>Kurz.</p>")
    full = Item("t", "j", None, "T2", summary="Kurz und lang", body_html="<p>" + "Lang. " * 20 + "</p>",
                published=NOW, categories=("Verkehr",))  # fmt: skip
    merged = enrich(short, full)
    assert (merged.source_id, merged.key, merged.title) == ("s", "k", "T")
    assert merged.body_html == full.body_html and merged.published == NOW
    assert merged.categories == ("Verkehr",) and merged.summary == "Kurz und lang"
    assert enrich(merged, short) == merged  # what was added stays
