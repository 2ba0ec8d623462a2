"""Only http(s) URLs leave syncd: a hostile feed's links and images, feed → draft."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.config import CityConfig, TargetConfig
from syncd.draft import build_draft
from syncd.models import Draft, Image, Item, Translation
from syncd.sanitize import http_url
from syncd.sources import SourceState
from tests.support.feedsource import feed
from tests.support.loopback import LoopbackServer, Reply, serve

SCHEMES = [
    "javascript:alert(1)",
    " JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
]
#: in a feed these two are relative links, resolved against the feed's address
HOSTILE = [*SCHEMES, "http:/no-host", "https://"]
DUEREN = CityConfig("dueren", "Düren", "de", "Europe/Berlin", (), TargetConfig("outbox"))
JINHUA = CityConfig("jinhua", "Jinhua", "zh", "Asia/Shanghai", (), TargetConfig("outbox"))


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as s:
        yield s


def draft_of(item: Item) -> Draft:
    translation = Translation(language="zh", title="标题", summary="", body_html="<p>正文</p>")
    return build_draft(
        marker="0123456789abcdef",
        item=item,
        version=1,
        translation=translation,
        source_city=DUEREN,
        target_city=JINHUA,
    )


@pytest.mark.parametrize("url", HOSTILE)
def test_http_url_refuses_every_other_scheme(url: str) -> None:
    assert http_url(url) is None


def test_http_url_keeps_http_and_https() -> None:
    assert http_url(" https://www.dueren.de/a b.jpg ") == "https://www.dueren.de/a b.jpg"
    assert http_url("HTTP://WWW.DUEREN.DE/") == "HTTP://WWW.DUEREN.DE/"


def test_hostile_links_and_images_from_a_feed_never_reach_a_draft(server: LoopbackServer) -> None:
    entries = []
    for n, url in enumerate(SCHEMES):
        entries.append(
            f"<item><guid>g{n}</guid><title>t{n}</title><link>{url}</link>"
            f'<enclosure url="{url}" type="image/png" length="1"/>'
            f'<media:content url="{url}" medium="image"/></item>'
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>T</title>'
        f"{''.join(entries)}</channel></rss>"
    ).encode()
    server.routes["/feed"] = lambda req: Reply(200, body, {"Content-Type": "application/rss+xml"})
    result = feed(server, "/feed").fetch(SourceState())
    assert len(result.items) == len(SCHEMES)
    for item in result.items:
        assert item.url is None and item.images == ()
        d = draft_of(item)
        assert d.source_url is None and d.images == ()
        assert "href" not in d.attribution_html


@pytest.mark.parametrize("url", HOSTILE)
def test_the_draft_guards_again_whatever_a_source_let_through(url: str) -> None:
    item = Item(
        source_id="s",
        key="k",
        url=url,
        title="Titel",
        images=(Image(url=url), Image(url="https://www.dueren.de/bild.jpg")),
    )
    d = draft_of(item)
    assert d.source_url is None
    assert [i.url for i in d.images] == ["https://www.dueren.de/bild.jpg"]
    assert url.strip() not in d.attribution_html and url.strip() not in d.body_html
