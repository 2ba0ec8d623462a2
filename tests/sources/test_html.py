"""``kind = "html"`` against a TYPO3-news-style fixture site on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.config import Duration, HttpConfig
from syncd.errors import FetchError, SourceAlert
from syncd.sources import SourceState
from syncd.sources.article import ArticleSpec, Entry, NoBody, read_article
from syncd.sources.html import HtmlSource, make
from syncd.sources.page import PageMemory
from syncd.sources.pages import Page, parse_html
from syncd.sources.selectors import canonical_url, css
from tests.sources.sites import (
    DUEREN_DETAIL,
    DUEREN_LIST,
    DUEREN_OPTIONS,
    Clock,
    client,
    dueren_site,
    html,
    load,
    memory,
    read,
    source,
)
from tests.support.loopback import LoopbackServer, Reply, Request


def dueren(
    tmp_path: Path,
    server: LoopbackServer,
    *,
    http: HttpConfig | None = None,
    clock: Clock | None = None,
    remember: PageMemory | None = None,
    **options: Any,
) -> HtmlSource:
    table = {
        "id": "dueren-presse",
        "kind": "html",
        "url": server.url + DUEREN_LIST,
        **DUEREN_OPTIONS,
        **options,
    }
    cfg = load(tmp_path, ("dueren", table))
    src, city = source(cfg, "dueren-presse")
    return make(src, city, client(http, clock), remember)


def test_typo3_press_list_and_detail_pages_give_items(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    result = dueren(tmp_path, server).fetch(SourceState())
    base = server.url + DUEREN_DETAIL
    assert [i.key for i in result.items] == [
        base + "neue-radwege-in-der-innenstadt?cHash=8a1f3c",  # utm_* dropped, cHash kept
        base + "stadtbibliothek-oeffnungszeiten",  # fragment dropped
        base + "strassensperrung",
        base + "haushalt-2024",  # from list page 2; its repeat of the first entry is not
    ]
    radwege, bibliothek, sperrung, haushalt = result.items
    assert radwege.url == radwege.key
    assert radwege.title == "Neue Radwege in der Innenstadt"
    # metadata beats the list: article:published_time 09:30+01:00, not the list's date
    assert radwege.published == datetime(2024, 3, 22, 8, 30, tzinfo=UTC)
    assert (
        radwege.summary
        == "Düren. Die Stadt Düren baut in diesem Jahr drei neue Radwege in der Innenstadt."
    )
    assert "verbinden den Bahnhof" in radwege.body_html
    assert f'href="{server.url}/verkehr/radverkehrskonzept"' in radwege.body_html  # made absolute
    for bad in (
        "<script",
        "onclick",
        "onerror",
        "javascript:",
        "eingeschleust",
        "Teilen",
        "Weitere Meldungen",
    ):
        assert bad not in radwege.body_html
    assert [i.url for i in radwege.images] == [
        f"{server.url}/fileadmin/_processed_/radweg-plan.jpg"
    ]
    assert radwege.flags == ()
    # no body where the selector looks: the generic extractor takes over, flagged
    assert bibliothek.flags == ("generic-extractor",)
    assert "samstags von 10 bis 14 Uhr" in bibliothek.body_html
    assert "Kaiserplatz 2–4" not in bibliothek.body_html  # page chrome stays out
    assert bibliothek.title == "Stadtbibliothek verlängert Öffnungszeiten"  # from the list
    # no date metadata: the visible "Veröffentlicht am 21. März 2024, 11:15 Uhr" beats
    # the list's bare day (which would be Berlin midnight, 2024-03-20 23:00 UTC)
    assert bibliothek.published == datetime(2024, 3, 21, 10, 15, tzinfo=UTC)
    assert (bibliothek.date_source, bibliothek.date_only) == ("page text", False)
    assert (radwege.date_source, radwege.date_only) == ("meta:article:published_time", False)
    assert sperrung.flags == ("tiny-body",)
    assert haushalt.published == datetime(
        2024, 3, 15, 15, 45, tzinfo=UTC
    )  # <meta name="date">, local
    assert any("generic extractor used" in w for w in result.warnings)
    assert any("tiny body" in w for w in result.warnings)
    assert result.entry_errors == ()
    # never fetched: the third list page (page limit 2), other hosts, links outside `allow`
    paths = {r.path.split("?")[0] for r in server.requests}
    assert DUEREN_LIST + "/seite-3" not in paths
    assert not any("kalender" in p or "jinhua-zu-gast" in p for p in paths)


def test_canonical_url_drops_tracking_default_port_and_fragment() -> None:
    assert (
        canonical_url("HTTPS://WWW.Dueren.DE:443/a/b?utm_source=x&id=7&fbclid=1&spm=a.b#frag")
        == "https://www.dueren.de/a/b?id=7"
    )
    assert canonical_url("http://h:8080") == "http://h:8080/"
    assert canonical_url("http://h/p?x=1&x=2&gclid=9") == "http://h/p?x=1&x=2"


def test_changed_markup_is_a_layout_alert_not_silence(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    relaunched = read("dueren/list.html").replace("news-list-view", "nachrichten-liste")
    server.routes[DUEREN_LIST] = html(relaunched)
    with pytest.raises(SourceAlert) as info:
        dueren(tmp_path, server).fetch(SourceState())
    assert info.value.reason.startswith("layout changed: list selector matched 0 items")
    assert ".news-list-view .article" in info.value.reason


def test_entries_without_allowed_links_are_a_layout_alert(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    with pytest.raises(SourceAlert) as info:
        dueren(tmp_path, server, allow="/no-such-path/").fetch(SourceState())
    assert "list selector matched 5 items but none had an allowed article link" in info.value.reason


def test_empty_article_pages_are_a_layout_alert(tmp_path: Path, server: LoopbackServer) -> None:
    dueren_site(server)
    for slug in (
        "neue-radwege-in-der-innenstadt",
        "stadtbibliothek-oeffnungszeiten",
        "strassensperrung",
    ):
        server.routes[DUEREN_DETAIL + slug] = html(
            "<html><body><div class='news-text-wrap'></div></body></html>"
        )
    with pytest.raises(SourceAlert) as info:
        dueren(tmp_path, server, pages=1).fetch(SourceState())
    assert info.value.reason == "layout changed: no article body found on any of 3 articles"


def test_one_empty_article_is_an_entry_error_the_rest_go_on(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    server.routes[DUEREN_DETAIL + "strassensperrung"] = html("<html><body></body></html>")
    server.routes[DUEREN_DETAIL + "haushalt-2024"] = lambda req: Reply(404, b"gone")
    result = dueren(tmp_path, server).fetch(SourceState())
    assert len(result.items) == 2
    assert any("no article body" in e for e in result.entry_errors)
    assert any("HTTP 404" in e for e in result.entry_errors)


CHALLENGES = [
    (Reply(412, b"<html><script>var $_ts=window['$_ts'];</script></html>"), "(HTTP 412 challenge)"),
    (
        Reply(
            521,
            b"<script>document.cookie=('__jsl_clearance_s=1711100000.1|0|abc');location.href=location.pathname</script>",
            {"Set-Cookie": "__jsluid_s=0a1b2c; path=/"},
        ),
        "(JavaScript challenge: __jsl_clearance)",
    ),
    (
        Reply(200, b"<html><body><p>\xe8\xaf\xb7\xe8\xbe\x93\xe5\x85\xa5\xe9\xaa\x8c\xe8\xaf\x81\xe7\xa0\x81</p></body></html>"),
        "(CAPTCHA page)",
    ),
    (Reply(403, b"<html><title>Just a moment...</title><script src='/cdn-cgi/challenge-platform/x.js'></script>"),
     "(JavaScript challenge: Cloudflare)"),
]  # fmt: skip


@pytest.mark.parametrize(("reply", "detail"), CHALLENGES)
def test_challenge_pages_are_reported_never_solved(
    tmp_path: Path, server: LoopbackServer, reply: Reply, detail: str
) -> None:
    server.routes[DUEREN_LIST] = lambda req: reply
    with pytest.raises(SourceAlert) as info:
        dueren(tmp_path, server).fetch(SourceState())
    assert info.value.reason == f"interactive verification required; not bypassed {detail}"
    hits = server.hits(DUEREN_LIST)
    assert len(hits) == 1 and "cookie" not in hits[0].headers  # asked once, nothing replayed


def test_a_challenge_on_an_article_stops_the_source(tmp_path: Path, server: LoopbackServer) -> None:
    dueren_site(server)
    server.routes[DUEREN_DETAIL + "stadtbibliothek-oeffnungszeiten"] = lambda req: Reply(412, b"")
    with pytest.raises(SourceAlert) as info:
        dueren(tmp_path, server).fetch(SourceState())
    assert info.value.reason.startswith("interactive verification required; not bypassed")
    assert not server.hits(DUEREN_DETAIL + "strassensperrung")  # stopped at the wall


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (
            lambda req: Reply(401, b"", {"WWW-Authenticate": "Basic"}),
            "login required; not bypassed (HTTP 401)",
        ),
        (lambda req: Reply(403, b"<p>Forbidden</p>"), "access denied (HTTP 403); not bypassed"),
        (
            html("<form><input name=u><input type=password name=p></form>"),
            "login required; not bypassed (password form instead of the list)",
        ),
    ],
)
def test_login_walls_are_reported(
    tmp_path: Path, server: LoopbackServer, route: Any, reason: str
) -> None:
    server.routes[DUEREN_LIST] = route
    with pytest.raises(SourceAlert) as info:
        dueren(tmp_path, server).fetch(SourceState())
    assert info.value.reason == reason


def test_redirect_to_a_login_page_is_a_login_wall(tmp_path: Path, server: LoopbackServer) -> None:
    server.routes[DUEREN_LIST] = lambda req: Reply(
        302, b"", {"Location": "/user/login?redirect=/presse"}
    )
    server.routes["/user/login"] = html("<html><body><h1>Anmelden</h1></body></html>")
    with pytest.raises(SourceAlert) as info:
        dueren(tmp_path, server).fetch(SourceState())
    assert info.value.reason.startswith("login required; not bypassed (redirected to ")


def test_redirect_to_another_host_is_refused(tmp_path: Path, server: LoopbackServer) -> None:
    dueren_site(server)
    away = f"http://localhost:{server.port}/elsewhere"  # same server, another host name
    server.routes[DUEREN_DETAIL + "strassensperrung"] = lambda req: Reply(
        301, b"", {"Location": away}
    )
    result = dueren(tmp_path, server).fetch(SourceState())
    assert len(result.items) == 3
    assert any("redirect to a host that is not allowed" in e for e in result.entry_errors)
    assert not server.hits("/elsewhere")


def test_private_addresses_are_refused_unless_allowed(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    strict = HttpConfig(allow_private=False, host_delay=Duration(0), timeout=Duration(seconds=5))
    with pytest.raises(FetchError, match="loopback/private"):
        dueren(tmp_path, server, http=strict).fetch(SourceState())
    assert server.requests == []


def test_robots_txt_is_honoured_and_cached(tmp_path: Path, server: LoopbackServer) -> None:
    dueren_site(server)
    server.routes["/robots.txt"] = html(
        "User-agent: *\nDisallow: /\n\nUser-agent: syncd\nDisallow: /verwaltung-politik/pressemitteilungen/detail/haushalt\n",
        ctype="text/plain",
    )
    src = dueren(tmp_path, server)
    result = src.fetch(SourceState())
    assert len(result.items) == 3
    assert any("robots.txt disallows this article" in e for e in result.entry_errors)
    assert not server.hits(DUEREN_DETAIL + "haushalt-2024")
    src.fetch(SourceState())
    assert len(server.hits("/robots.txt")) == 1  # cached


def test_robots_txt_disallowing_the_list_is_an_alert(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    server.routes["/robots.txt"] = html(
        "User-agent: *\nDisallow: /verwaltung-politik/\n", ctype="text/plain"
    )
    with pytest.raises(SourceAlert, match="robots.txt disallows the list page"):
        dueren(tmp_path, server).fetch(SourceState())
    assert not server.hits(DUEREN_LIST)


def test_crawl_delay_and_host_delay_space_requests(tmp_path: Path, server: LoopbackServer) -> None:
    dueren_site(server)
    server.routes["/robots.txt"] = html("User-agent: *\nCrawl-delay: 2\n", ctype="text/plain")
    slept: list[float] = []
    c = client(sleep=slept.append)
    table = {
        "id": "dueren-presse",
        "kind": "html",
        "url": server.url + DUEREN_LIST,
        **DUEREN_OPTIONS,
    }
    src, city = source(load(tmp_path, ("dueren", table)), "dueren-presse")
    make(src, city, c).fetch(SourceState())
    # the fake sleep does not pass time, so each request reserves the next 2 s slot
    assert len(slept) >= 5
    gaps = [b - a for a, b in zip([0.0, *slept], slept, strict=False)]
    assert all(1.5 < g <= 2.0 for g in gaps), gaps


def test_conditional_get_on_the_list(tmp_path: Path, server: LoopbackServer) -> None:
    dueren_site(server)
    body = read("dueren/list.html").encode()

    def listing(req: Request) -> Reply:
        if req.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"")
        return Reply(
            200,
            body,
            {
                "Content-Type": "text/html; charset=utf-8",
                "ETag": '"v1"',
                "Cache-Control": "max-age=600",
            },
        )

    server.routes[DUEREN_LIST] = listing
    src = dueren(tmp_path, server)
    first = src.fetch(SourceState())
    assert first.etag == '"v1"' and first.min_delay == timedelta(minutes=10)
    second = src.fetch(SourceState(etag=first.etag))
    assert second.not_modified and second.items == ()


def test_articles_are_revisited_late_and_conditionally(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    article = read("dueren/sperrung.html").encode()
    path = DUEREN_DETAIL + "strassensperrung"

    def conditional(req: Request) -> Reply:
        if req.headers.get("if-none-match") == '"a1"':
            return Reply(304, b"")
        return Reply(200, article, {"Content-Type": "text/html; charset=utf-8", "ETag": '"a1"'})

    server.routes[path] = conditional
    clock = Clock()
    src = dueren(tmp_path, server, clock=clock, remember=memory(tmp_path))
    first = src.fetch(SourceState())
    src.acknowledge(first)  # recorded: the source may remember its articles now
    second = src.fetch(SourceState())
    assert len(server.hits(path)) == 1  # within `revisit`: not asked again
    assert second.items == ()  # nothing changed, nothing to record
    clock.now += timedelta(hours=7)
    third = src.fetch(SourceState())
    hits = server.hits(path)
    assert len(hits) == 2 and hits[1].headers.get("if-none-match") == '"a1"'
    # the 304 and the unchanged pages (no validators: compared by hash) give no item
    assert third.items == () and third.entry_errors == ()


def test_a_changed_list_entry_reads_its_article_again(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    src = dueren(tmp_path, server, remember=memory(tmp_path))
    src.acknowledge(src.fetch(SourceState()))
    before = len(server.requests)
    listing = read("dueren/list.html").replace(
        "Ab April ist die Stadtbibliothek auch samstags geöffnet.",
        "Ab April ist die Stadtbibliothek auch samstags und sonntags geöffnet.",
    )
    server.routes[DUEREN_LIST] = html(listing)
    again = src.fetch(SourceState())
    detail = [r.path for r in server.requests[before:] if "/detail/" in r.path]
    assert detail == [DUEREN_DETAIL + "stadtbibliothek-oeffnungszeiten"]
    (item,) = again.items
    assert "sonntags" in item.summary


def test_max_articles_bounds_requests_per_poll(tmp_path: Path, server: LoopbackServer) -> None:
    dueren_site(server)
    result = dueren(tmp_path, server, max_articles=2).fetch(SourceState())
    assert len(result.items) == 2
    assert len([r for r in server.requests if "/detail/" in r.path]) == 2


def test_byte_cap_on_every_page(tmp_path: Path, server: LoopbackServer) -> None:
    dueren_site(server)
    huge = (
        "<html><body><div class='news-text-wrap'>"
        + "<p>Text.</p>" * 200_000
        + "</div></body></html>"
    )
    server.routes[DUEREN_DETAIL + "strassensperrung"] = html(huge)
    result = dueren(tmp_path, server, max_bytes=500_000).fetch(SourceState())
    assert len(result.items) == 3
    assert any("response too large" in e for e in result.entry_errors)
    server.routes[DUEREN_LIST] = html(huge)
    with pytest.raises(FetchError, match="response too large"):
        dueren(tmp_path, server, max_bytes=500_000).fetch(SourceState())


def test_malformed_and_hostile_markup_does_not_crash(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    deep = "<div>" * 20_000 + "tief" + "</div>" * 10
    server.routes[DUEREN_DETAIL + "strassensperrung"] = html(
        "<html><body><div class='news-text-wrap'><p>Unclosed <b>bold <i>italic<table><tr><td>cell"
        "<p>Second paragraph with an <img src='data:image/png;base64,AAAA'> and <a href='javascript:x'>a link</a>."
        "<style>body{display:none}</style><iframe src='http://evil.example/'></iframe>" + deep
    )
    server.routes[DUEREN_DETAIL + "haushalt-2024"] = lambda req: Reply(
        200, b"\x00\xff\xfe" * 1000 + b"\x89PNG"
    )
    result = dueren(tmp_path, server).fetch(SourceState())
    items = {i.key.rsplit("/", 1)[1]: i for i in result.items}
    body = items["strassensperrung"].body_html
    assert "Unclosed" in body and "Second paragraph" in body
    for bad in ("data:", "javascript:", "<style", "<iframe", "evil.example"):
        assert bad not in body
    assert "haushalt-2024" not in items  # binary garbage: dropped or alerted, never an item
    assert result.entry_errors


def test_ordinary_pages_with_challenge_words_are_not_walls(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    # Cloudflare injects its detection script into ordinary pages; a contact form has a CAPTCHA
    injected = read("dueren/list.html").replace(
        "</body>",
        "<script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script>"
        "<form><label>Captcha</label><input name=captcha></form></body>",
    )
    server.routes[DUEREN_LIST] = html(injected)
    assert len(dueren(tmp_path, server).fetch(SourceState()).items) == 4


_TAGS = st.sampled_from(["<p>", "</p>", "<div class='news-text-wrap'>", "</div>", "<script>", "<img src=x>",
                         "<meta name=PubDate content='", "'>", "<time datetime='", "<a href='javascript:x'>",
                         "<!--", "-->", "<![CDATA[", "]]>", "&#0;", "&amp", "\x00", "金华", "Düren"])  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(_TAGS, st.text(max_size=20)), max_size=60))
def test_any_article_markup_gives_an_article_or_a_clear_no_body(parts: list[str]) -> None:
    text = "".join(parts)
    page = Page("https://www.dueren.de/a", {}, text, parse_html(text, "https://www.dueren.de/a"))
    spec = ArticleSpec(tz=ZoneInfo("Europe/Berlin"), body=[css(".news-text-wrap")], min_body=10)
    try:
        article = read_article(page, spec, Entry("https://www.dueren.de/a", "Titel"))
    except NoBody:
        return
    assert (
        article.body_html
        and "<script" not in article.body_html
        and "javascript:" not in article.body_html
    )
    assert article.published is None or article.published.tzinfo is UTC


def test_cookies_are_never_kept_or_sent(tmp_path: Path, server: LoopbackServer) -> None:
    dueren_site(server)
    listing = read("dueren/list.html").encode()
    server.routes[DUEREN_LIST] = lambda req: Reply(
        200, listing, {"Content-Type": "text/html", "Set-Cookie": "__jsluid_s=abc; Path=/"}
    )
    src = dueren(tmp_path, server)
    src.fetch(SourceState())
    src.fetch(SourceState())
    assert all("cookie" not in r.headers for r in server.requests)
