"""Feed sources through the polite client against a real loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.config import CityConfig, Duration, SourceConfig, TargetConfig
from syncd.errors import FetchError, ParseError, RetryLater
from syncd.net.http import parse_retry_after
from syncd.sources import SourceState
from syncd.sources.feed import FeedSource, Options
from tests.support.feedsource import NOW, client, feed
from tests.support.loopback import LoopbackServer, Reply, serve

FIX = Path(__file__).parent / "fixtures" / "feeds"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as s:
        yield s


def static(path: Path, ctype: str = "application/rss+xml", **headers: str) -> object:
    return lambda req: Reply(200, path.read_bytes(), {"Content-Type": ctype, **headers})


def test_rss2_items_are_normalized_and_sanitized(server: LoopbackServer) -> None:
    server.routes["/feed"] = static(FIX / "rss2.xml")  # type: ignore[assignment]
    result = feed(server, "/feed").fetch(SourceState())
    items = {i.key: i for i in result.items}
    assert set(items) == {"news-101", "https://www.dueren.de/news/ohne", "news-103"}
    first = items["news-101"]
    assert first.title == "Hallo Welt."
    assert first.url == "https://www.dueren.de/news/hallo-welt"
    assert first.summary == "Düren. Hallo Welt."
    # content:encoded preferred over description, and made harmless
    assert "Hallo Welt." in first.body_html and "Düren." not in first.body_html
    for bad in ("<script", "onclick", "onerror", "javascript:", "alert(1)"):
        assert bad not in first.body_html
    assert first.published == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert [i.url for i in first.images] == ["https://www.dueren.de/bild.jpg"]
    assert first.categories == ("Kultur",)
    # a date without zone is read in the source's time zone (Europe/Berlin, UTC+1)
    assert items["news-103"].published == datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    # an entry without guid/date survives; the one with neither guid nor link is dropped
    assert items["https://www.dueren.de/news/ohne"].published is None
    assert len(result.entry_errors) == 1 and "no guid and no link" in result.entry_errors[0]
    assert result.min_delay == timedelta(minutes=20)  # <ttl>


def test_user_agent_names_syncd_and_contact(server: LoopbackServer) -> None:
    server.routes["/feed"] = static(FIX / "rss2.xml")  # type: ignore[assignment]
    feed(server, "/feed", contact="https://example.org/ops").fetch(SourceState())
    ua = server.requests[0].headers["user-agent"]
    assert ua.startswith("syncd/") and "https://example.org/ops" in ua


def test_rss1_and_atom(server: LoopbackServer) -> None:
    server.routes["/rdf"] = static(FIX / "rss1.rdf", "application/rdf+xml")  # type: ignore[assignment]
    server.routes["/atom"] = static(FIX / "atom.xml", "application/atom+xml")  # type: ignore[assignment]
    (rdf,) = feed(server, "/rdf", "Asia/Shanghai").fetch(SourceState()).items
    assert rdf.title == "你好世界。" and rdf.published == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    (atom,) = feed(server, "/atom", "Asia/Shanghai").fetch(SourceState()).items
    assert atom.key == "urn:jinhua:1"
    assert atom.url == f"{server.url}/art/1.html"  # relative link resolved against the feed
    assert atom.body_html == "<p>你好世界。</p>"


def test_conditional_get_and_304(server: LoopbackServer) -> None:
    body = (FIX / "rss2.xml").read_bytes()

    def handler(req: object) -> Reply:
        h = req.headers  # type: ignore[attr-defined]
        if (
            h.get("if-none-match") == '"v1"'
            and h.get("if-modified-since") == "Wed, 25 Nov 2026 10:00:00 GMT"
        ):
            return Reply(304, b"")
        return Reply(200, body, {"ETag": '"v1"', "Last-Modified": "Wed, 25 Nov 2026 10:00:00 GMT"})

    server.routes["/feed"] = handler
    src = feed(server, "/feed")
    first = src.fetch(SourceState())
    assert first.etag == '"v1"' and first.items
    second = src.fetch(SourceState(etag=first.etag, last_modified=first.last_modified))
    assert second.not_modified and second.items == () and second.etag == '"v1"'


def test_retry_after_on_429_and_503(server: LoopbackServer) -> None:
    server.routes["/busy"] = lambda req: Reply(429, b"slow down", {"Retry-After": "120"})
    server.routes["/down"] = lambda req: Reply(
        503, b"", {"Retry-After": "Thu, 26 Nov 2026 13:00:00 GMT"}
    )
    with pytest.raises(RetryLater) as info:
        feed(server, "/busy").fetch(SourceState())
    assert info.value.delay == timedelta(seconds=120)
    with pytest.raises(RetryLater) as info:
        feed(server, "/down").fetch(SourceState())
    assert info.value.delay == timedelta(hours=1)
    assert parse_retry_after("garbage", NOW) is None
    assert parse_retry_after("999999999", NOW) == timedelta(days=1)  # capped


def test_huge_response_is_cut_off_at_the_cap(server: LoopbackServer) -> None:
    sent = []

    def fifty_mib() -> Iterator[bytes]:
        yield b'<?xml version="1.0"?><rss version="2.0"><channel>'
        for _ in range(50 * 16):
            sent.append(1)
            yield b"<!--" + b"x" * (64 * 1024 - 7) + b"-->"

    server.routes["/huge"] = lambda req: Reply(
        200, fifty_mib(), {"Content-Type": "application/rss+xml"}
    )
    server.routes["/declared"] = lambda req: Reply(200, b"x", {"Content-Length": str(50 * 2**20)})
    with pytest.raises(FetchError, match="too large"):
        feed(server, "/huge", max_bytes=2 * 2**20).fetch(SourceState())
    assert len(sent) < 50 * 16  # the server was not read to the end


def test_garbage_and_html_are_parse_errors(server: LoopbackServer) -> None:
    server.routes["/garbage"] = lambda req: Reply(
        200, b"\x00\xff\xfe<<<>>>", {"Content-Type": "application/xml"}
    )
    server.routes["/html"] = lambda req: Reply(
        200, b"<html><body><p>Wartung</p></body></html>", {"Content-Type": "text/html"}
    )
    for path in ("/garbage", "/html"):
        with pytest.raises(ParseError, match="feed"):
            feed(server, path).fetch(SourceState())


def test_wrong_encoding_declaration_is_a_warning_not_a_failure(server: LoopbackServer) -> None:
    server.routes["/latin"] = static(
        FIX / "wrong-encoding.xml", "application/rss+xml; charset=utf-8"
    )  # type: ignore[assignment]
    result = feed(server, "/latin").fetch(SourceState())
    (item,) = result.items
    assert item.title == "Münster"
    assert result.warnings


def test_redirects_are_bounded(server: LoopbackServer) -> None:
    server.routes["/loop"] = lambda req: Reply(302, b"", {"Location": "/loop"})
    server.routes["/moved"] = lambda req: Reply(301, b"", {"Location": "/feed"})
    server.routes["/feed"] = static(FIX / "rss1.rdf")  # type: ignore[assignment]
    assert feed(server, "/moved").fetch(SourceState()).items
    with pytest.raises(FetchError, match="redirects"):
        feed(server, "/loop").fetch(SourceState())


def test_private_addresses_are_refused_unless_allowed(server: LoopbackServer) -> None:
    server.routes["/feed"] = static(FIX / "rss1.rdf")  # type: ignore[assignment]
    with pytest.raises(FetchError, match="loopback/private"):
        feed(server, "/feed", allow_private=False).fetch(SourceState())
    assert server.requests == []


def test_unreachable_server_is_a_fetch_error() -> None:
    with serve() as s:
        url = s.url
    city = CityConfig("dueren", "Düren", "de", "Europe/Berlin", (), TargetConfig("outbox"))
    src = SourceConfig("s1", "feed", Duration(minutes=15), url=url + "/feed", options=Options())
    with pytest.raises(FetchError, match="network error"):
        FeedSource(src, city, client()).fetch(SourceState())


def test_a_body_naming_a_local_file_is_not_read_from_disk(
    server: LoopbackServer, tmp_path: Path
) -> None:
    """feedparser open()s a bytes argument as a file name; syncd hands it a stream."""
    secret = tmp_path / "local-feed.xml"
    secret.write_bytes((FIX / "rss1.rdf").read_bytes())
    server.routes["/evil"] = lambda req: Reply(
        200, str(secret).encode(), {"Content-Type": "application/rss+xml"}
    )
    with pytest.raises(ParseError):
        feed(server, "/evil").fetch(SourceState())


def test_utf8_declared_as_latin1_is_read_as_utf8(server: LoopbackServer) -> None:
    body = (FIX / "rss1.rdf").read_bytes().replace("你好世界。".encode(), "Düren grüßt.".encode())
    server.routes["/decl"] = lambda req: Reply(
        200, body, {"Content-Type": "application/rss+xml; charset=iso-8859-1"}
    )
    result = feed(server, "/decl").fetch(SourceState())
    assert result.items[0].title == "Düren grüßt."
    assert any("iso-8859-1" in w for w in result.warnings)


# ------------------------------------------------------------------ hostile feeds


def rss_items(items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>https://example.org/</link>{channel}{items}</channel></rss>"
    ).encode()


def test_dates_and_ttl_beyond_the_calendar_are_dropped_with_a_note(
    server: LoopbackServer,
) -> None:
    """Year 1 or 9999 with an offset, and a <ttl> of 10**20 minutes, used to raise
    OverflowError and fail the whole feed."""
    body = rss_items(
        "<item><guid>y1</guid><title>a</title><pubDate>Mon, 01 Jan 0001 00:00:00 +0100</pubDate></item>"
        "<item><guid>y9999</guid><title>b</title><pubDate>9999-12-31T23:59:59-01:00</pubDate></item>"
        "<item><guid>iso1</guid><title>c</title><pubDate>0001-01-01T00:00:00+01:00</pubDate></item>"
        "<item><guid>naive1</guid><title>d</title><pubDate>0001-01-01T00:00:00</pubDate></item>"
        "<item><guid>ok</guid><title>e</title><pubDate>Wed, 25 Nov 2026 10:00:00 +0100</pubDate></item>",
        channel="<ttl>100000000000000000000</ttl>",
    )
    server.routes["/feed"] = lambda req: Reply(200, body, {"Content-Type": "application/rss+xml"})
    result = feed(server, "/feed").fetch(SourceState())
    dates = {i.key: i.published for i in result.items}
    assert dates == {
        "y1": None,
        "y9999": None,
        "iso1": None,
        "naive1": None,
        "ok": datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
    }
    assert sum("out of range" in w for w in result.warnings) == 4
    assert result.min_delay == timedelta(days=1)
    assert any("<ttl>" in w and "capped" in w for w in result.warnings)


@pytest.mark.parametrize("ttl", ["²", "1" * 5000, "-5", "20 minutes"])
def test_a_ttl_that_is_no_number_is_ignored(server: LoopbackServer, ttl: str) -> None:
    body = rss_items("<item><guid>a</guid><title>a</title></item>", channel=f"<ttl>{ttl}</ttl>")
    server.routes["/feed"] = lambda req: Reply(200, body, {"Content-Type": "application/rss+xml"})
    result = feed(server, "/feed").fetch(SourceState())
    assert [i.key for i in result.items] == ["a"]
    assert result.min_delay in (None, timedelta(days=1))
    assert any("<ttl>" in w for w in result.warnings)


def test_undefined_entities_are_read_loosely_with_a_warning(server: LoopbackServer) -> None:
    """Real CMS feeds use HTML entities XML does not define; feedparser recovers them."""
    body = rss_items(
        "<item><guid>a</guid><title>Gr&auml;fin&nbsp;von D&uuml;ren</title>"
        "<description>Stra&szlig;e&nbsp;frei</description></item>"
    )
    server.routes["/feed"] = lambda req: Reply(200, body, {"Content-Type": "application/rss+xml"})
    result = feed(server, "/feed").fetch(SourceState())
    (item,) = result.items
    assert item.title == "Gräfin von Düren" and "Straße" in item.body_html
    assert any("undefined entity" in w for w in result.warnings)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("declared", ["UTF-16", ""])
def test_utf16_and_utf32_without_bom_are_read(
    server: LoopbackServer, codec: str, declared: str
) -> None:
    decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    doc = (
        f'{decl}<rss version="2.0"><channel><title>T</title>'
        "<item><guid>a</guid><title>金华 grüßt Düren</title></item></channel></rss>"
    )
    body = doc.encode(codec)
    server.routes["/feed"] = lambda req: Reply(200, body, {"Content-Type": "application/rss+xml"})
    (item,) = feed(server, "/feed", "Asia/Shanghai").fetch(SourceState()).items
    assert item.title == "金华 grüßt Düren"


def test_what_feedparser_cannot_read_at_all_is_still_refused(server: LoopbackServer) -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><guid>a'
    server.routes["/cut"] = lambda req: Reply(200, body, {"Content-Type": "application/rss+xml"})
    server.routes["/text"] = lambda req: Reply(200, b"Wartungsarbeiten &nbsp; bis 12 Uhr", {})
    with pytest.raises(ParseError, match="not a feed|not a readable feed"):
        feed(server, "/text").fetch(SourceState())
    result = feed(server, "/cut").fetch(SourceState())  # the channel is there, the entry is not
    assert result.items == () and result.warnings
