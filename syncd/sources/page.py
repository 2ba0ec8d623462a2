"""The page machinery the page-reading kinds (``html``, ``jpage``) share.

``PageReader`` fetches one page politely (robots.txt, byte cap, allowed hosts) and
refuses to treat a challenge or login page as content; ``read_article`` takes title,
date and body from an article page; ``PageSource`` turns a kind's listing into items,
an article at a time. A kind supplies the listing and the ``ArticleSpec``.

Parsing is lxml with cssselect: lxml is already here through trafilatura, is the
fastest maintained HTML parser for Python, copes with broken markup the way browsers
do, and cssselect (the Scrapy project's) compiles CSS selectors to XPath once.

Where things come from, first found wins:

- title: ``<meta name="ArticleTitle">``, ``og:title``, the list entry, ``<title>``;
- date: ``<meta name="PubDate">``, ``article:published_time`` and other date metas,
  the ``article_date`` selector, the first ``<time datetime>`` in the body, the list
  entry; local times are read in the city's zone;
- body: the Hanweb ``ContentStart``/``ContentEnd`` markers when the spec asks for
  them, then the ``body`` selectors (minus ``remove``); when they find nothing,
  trafilatura (the item is flagged ``generic-extractor``); under ``min_body``
  characters of text the item is flagged ``tiny-body``.

The item key is the article URL in canonical form (lower-case scheme and host, no
default port, no fragment, no tracking parameters such as ``utm_*``). It is taken
from the list link, not from the page's ``rel=canonical``: a key must stay the same
whatever the page claims later.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
import trafilatura
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

from ..config import CityConfig, SourceConfig
from ..decide import echo_evidence
from ..errors import FetchError, RetryLater, SourceAlert
from ..models import Image, Item
from ..net.http import PoliteClient
from ..sanitize import clean_html, escape, to_text
from . import FetchResult, SourceState, net_errors
from .decode import decode_html, garbled, parse_date, strip_controls

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
MAX_TITLE = 1000
MAX_IMAGES = 20
#: articles kept in memory per source for conditional GETs and revisits
CACHE_SIZE = 500
VERIFY = "interactive verification required; not bypassed"
LOGIN = "login required; not bypassed"
_TRACKING = re.compile(
    r"^(utm_\w+|mtm_\w+|pk_\w+|piwik_\w+|fbclid|gclid|gclsrc|dclid|msclkid|mc_cid|mc_eid|"
    r"_ga|_gl|yclid|igshid|spm|wt_mc|wt\.mc_id)$",
    re.I,
)
_LOGIN_PATH = re.compile(
    r"(^|[/_.-])(login|logon|signin|sign-in|anmelden|sso|cas|passport|auth)([/_.?-]|$)", re.I
)
#: found only on challenge pages
_CHALLENGE_MARKERS = (
    ("__jsl_clearance", "JavaScript challenge: __jsl_clearance"),
    ("acw_sc__v2", "JavaScript challenge: acw_sc__v2"),
    ("cf_chl_opt", "JavaScript challenge: Cloudflare"),
)
#: found on challenge pages and, now and then, on real ones (Cloudflare injects its
#: challenge-platform script into ordinary pages; a contact form has a CAPTCHA):
#: they count only on a page with next to no visible text
_WEAK_MARKERS = re.compile(
    r"challenge-platform|just a moment|captcha|geetest|验证码|滑动验证|人机验证|安全验证", re.I
)
_DATE_METAS = (
    ("name", "pubdate"),
    ("property", "article:published_time"),
    ("name", "publishdate"),
    ("name", "dc.date.issued"),
    ("name", "dc.date"),
    ("name", "dcterms.date"),
    ("name", "date"),
    ("itemprop", "datepublished"),
)


# --------------------------------------------------------------------------- selectors


def selector_problem(sel: str) -> str | None:
    """Why a CSS selector cannot be used, or None."""
    try:
        CSSSelector(sel, translator="html")
    except (SelectorError, etree.XPathError) as exc:
        return f"not a usable CSS selector {sel!r}: {exc}"
    return None


def regex_problem(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a regular expression {pattern!r}: {exc}"
    return None


def css(sel: str) -> Any:
    """A compiled selector (a callable on an element), None for an empty string."""
    return CSSSelector(sel, translator="html") if sel else None


# ------------------------------------------------------------------------------- URLs


def canonical_url(url: str) -> str:
    """``url`` in canonical form: the item key of a page."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = (
        host
        if port is None or (scheme, port) in (("http", 80), ("https", 443))
        else f"{host}:{port}"
    )
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k)
        ]
    )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def host_filter(base_url: str, extra: Iterable[str]) -> Callable[[str], bool]:
    hosts = {(urlsplit(base_url).hostname or "").lower(), *(h.lower() for h in extra)}
    return lambda host: host.lower() in hosts


# ------------------------------------------------------------------------------ pages


@dataclass(frozen=True)
class Page:
    url: str
    headers: dict[str, str]
    text: str
    doc: Any  # lxml.html.HtmlElement, links made absolute
    warnings: tuple[str, ...] = ()

    def meta(self, attr: str, name: str) -> str:
        """The content of the first ``<meta attr=name>`` (name compared case-insensitively)."""
        for el in self.doc.iter("meta"):
            if (el.get(attr) or "").strip().lower() == name:
                return (el.get("content") or "").strip()
        return ""


class Disallowed(Exception):
    """robots.txt forbids the URL (internal to the page kinds)."""


def parse_html(text: str, base_url: str) -> Any:
    """An lxml document of ``text`` with every link made absolute; never raises."""
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    raw = strip_controls(text).encode("utf-8", "replace")
    try:
        doc = lxml.html.document_fromstring(raw, parser=parser)
    except etree.ParserError:  # empty document
        doc = lxml.html.document_fromstring(b"<html><body></body></html>", parser=parser)
    doc.make_links_absolute(base_url, resolve_base_href=False, handle_failures="discard")
    return doc


def visible_text(doc: Any) -> str:
    body = doc.find("body")
    root = body if body is not None else doc
    parts = [t for t in root.itertext() if t.strip()]
    return " ".join(" ".join(parts).split())


def detect_wall(
    status: int, headers: Mapping[str, str], text: str, url: str, requested: str
) -> str | None:
    """The alert reason when a response is a challenge or login page, else None.

    Never tries to pass one: a challenge answered by running its script or sending
    its cookie would be a bypass.
    """
    cookies = headers.get("set-cookie", "")
    if status == 412:
        return f"{VERIFY} (HTTP 412 challenge)"
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return f"{VERIFY} (Cloudflare challenge)"
    head = text[:200_000]
    for marker, what in _CHALLENGE_MARKERS:
        if marker in cookies or marker in head:
            return f"{VERIFY} ({what})"
    if status == 521:
        return f"{VERIFY} (HTTP 521 challenge)"
    if status == 401:
        return f"{LOGIN} (HTTP 401)"
    final, first = urlsplit(url), urlsplit(requested)
    if final.path != first.path and _LOGIN_PATH.search(final.path + "?" + final.query):
        return f"{LOGIN} (redirected to {url})"
    weak = _WEAK_MARKERS.search(head) if len(text) < 50_000 else None
    if weak and len(visible_text(parse_html(text, url))) < 400:
        cloudflare = weak.group(0).lower() in ("challenge-platform", "just a moment")
        return f"{VERIFY} ({'JavaScript challenge: Cloudflare' if cloudflare else 'CAPTCHA page'})"
    if status == 403:
        return "access denied (HTTP 403); not bypassed"
    return None


def has_password_form(doc: Any) -> bool:
    return any((el.get("type") or "").lower() == "password" for el in doc.iter("input"))


class PageReader:
    """Fetches and decodes pages for one source, refusing walls. Thread-compatible."""

    def __init__(
        self,
        source_id: str,
        http: PoliteClient,
        *,
        allow_host: Callable[[str], bool],
        hints: Sequence[str],
        max_bytes: int,
    ) -> None:
        self.source_id = source_id
        self.http = http
        self.allow_host = allow_host
        self.hints = tuple(hints)
        self.max_bytes = max_bytes or None

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        method: str = "GET",
        data: dict[str, str] | None = None,
        accept: str = ACCEPT,
    ) -> tuple[Page | None, str | None, str | None]:
        """``(page, etag, last_modified)``; ``page`` is None for a 304.

        Raises ``Disallowed`` (robots.txt), ``SourceAlert`` (challenge, login wall,
        garbled text), ``FetchError`` / ``RetryLater``.
        """
        with net_errors(self.source_id):
            if not self.http.robots_allows(self.source_id, url):
                raise Disallowed(url)
            resp = self.http.get(
                self.source_id,
                url,
                etag=etag,
                last_modified=last_modified,
                accept=accept,
                max_bytes=self.max_bytes,
                allow_hosts=self.allow_host,
                method=method,
                data=data,
                raise_for_status=False,
            )
        new_etag = resp.headers.get("etag") or etag
        new_lm = resp.headers.get("last-modified") or last_modified
        if resp.not_modified:
            return None, new_etag, new_lm
        text, _codec, warnings = decode_html(resp.content, resp.headers, self.hints)
        text = strip_controls(text)
        wall = detect_wall(resp.status, resp.headers, text, resp.url, url)
        if wall:
            raise SourceAlert(self.source_id, wall, resp.url)
        if not 200 <= resp.status < 300:
            raise FetchError(self.source_id, resp.url, f"HTTP {resp.status}")
        if garbled(text):
            raise SourceAlert(
                self.source_id,
                "garbled text: no charset decodes the page cleanly; " + "; ".join(warnings),
                resp.url,
            )
        page = Page(resp.url, dict(resp.headers), text, parse_html(text, resp.url), tuple(warnings))
        return page, new_etag, new_lm


# ---------------------------------------------------------------------------- articles


@dataclass(frozen=True)
class Entry:
    """One list entry: where the article is and what the list said about it."""

    url: str  # absolute, canonical: the item key
    title: str = ""
    published: datetime | None = None
    teaser: str = ""


@dataclass(frozen=True)
class ArticleSpec:
    """How to read an article page of one source."""

    tz: tzinfo
    body: Sequence[Any] = ()  # compiled CSSSelectors, tried in order
    remove: Sequence[Any] = ()
    date: Any = None
    date_formats: tuple[str, ...] = ()
    min_body: int = 200
    markers: bool = False  # Hanweb <meta name="ContentStart"> … ContentEnd


class NoBody(Exception):
    """Neither the selectors nor the generic extractor found a body (internal)."""


_CONTENT_MARKERS = re.compile(
    r"""<meta\s+name=["']?ContentStart["']?\s*/?>(.*?)<meta\s+name=["']?ContentEnd["']?""",
    re.I | re.S,
)


def element_text(el: Any) -> str:
    """The text of an element, whitespace collapsed."""
    return " ".join((el.text_content() or "").split())


def _select_body(doc: Any, selectors: Sequence[Any]) -> list[Any]:
    for sel in selectors:
        found = sel(doc)
        outer = [el for el in found if not any(o in el.iterancestors() for o in found)]
        if outer:
            return outer
    return []


def _body_from_markers(page: Page) -> list[Any]:
    m = _CONTENT_MARKERS.search(page.text)
    if not m:
        return []
    frag = lxml.html.fragment_fromstring(m.group(1) or " ", create_parent="div")
    frag.make_links_absolute(page.url, resolve_base_href=False, handle_failures="discard")
    return [frag]


def _serialize(elements: Iterable[Any], remove: Sequence[Any]) -> str:
    """The inner HTML of the body containers (the containers' own tags are layout)."""
    parts = []
    for el in elements:
        for sel in remove:
            for bad in sel(el):
                if bad is not el and bad.getparent() is not None:
                    bad.drop_tree()
        parts.append(escape(el.text or ""))
        parts.extend(lxml.html.tostring(child, encoding="unicode", method="html") for child in el)
    return "".join(parts)


def _meta_date(page: Page, tz: tzinfo, formats: tuple[str, ...]) -> datetime | None:
    for attr, name in _DATE_METAS:
        value = page.meta(attr, name)
        if value:
            dt = parse_date(value, tz, formats)
            if dt is not None:
                return dt
    return None


def _images(body_html: str, page: Page) -> tuple[Image, ...]:
    out: list[Image] = []
    seen: set[str] = set()
    if body_html:
        frag = lxml.html.fragment_fromstring(body_html, create_parent="div")
        for img in frag.iter("img"):
            src = img.get("src") or ""
            if src.startswith(("http://", "https://")) and src not in seen:
                seen.add(src)
                out.append(Image(url=src, title=(img.get("alt") or "").strip() or None))
    og = urljoin(page.url, page.meta("property", "og:image"))
    if not out and og != page.url and og.startswith(("http://", "https://")):
        out.append(Image(url=og))
    return tuple(out[:MAX_IMAGES])


@dataclass(frozen=True)
class Article:
    title: str
    published: datetime | None
    summary: str
    raw_body: str
    body_html: str
    images: tuple[Image, ...]
    flags: tuple[str, ...]
    warnings: tuple[str, ...]
    meta: dict[str, str]


def read_article(page: Page, spec: ArticleSpec, entry: Entry) -> Article:
    """Title, date, summary and sanitized body of an article page (raises ``NoBody``)."""
    title = page.meta("name", "articletitle") or page.meta("property", "og:title") or entry.title
    if not title:
        t = page.doc.find(".//title")
        title = element_text(t) if t is not None else ""
    published = _meta_date(page, spec.tz, spec.date_formats)
    if published is None and spec.date is not None:
        for el in spec.date(page.doc):
            published = parse_date(
                el.get("datetime") or el.get("content") or element_text(el),
                spec.tz,
                spec.date_formats,
            )
            if published:
                break
    flags: list[str] = []
    warnings: list[str] = []
    elements = _body_from_markers(page) if spec.markers else []
    if not elements:
        elements = _select_body(page.doc, spec.body)
    if published is None:
        for root in [*elements, page.doc]:
            times = [t for t in root.iter("time") if t.get("datetime")]
            if times:
                published = parse_date(times[0].get("datetime"), spec.tz, spec.date_formats)
                break
    published = published or entry.published
    raw = _serialize(elements, spec.remove) if elements else ""
    body = clean_html(raw)
    if not to_text(body) and "<img" not in body:
        if spec.body:
            warnings.append(f"body selector matched nothing on {page.url}; generic extractor used")
        extracted = trafilatura.extract(
            page.text, url=page.url, output_format="html", include_images=True, include_links=True
        )
        raw = strip_controls(extracted or "")
        body = clean_html(raw)
        flags.append("generic-extractor")
        if not to_text(body):
            raise NoBody(
                f"{page.url}: no article body (body selector and generic extractor found nothing)"
            )
    if len(to_text(body)) < spec.min_body:
        flags.append("tiny-body")
        warnings.append(f"tiny body ({len(to_text(body))} characters) on {page.url}")
    summary = (
        entry.teaser or page.meta("name", "description") or page.meta("property", "og:description")
    )
    meta = {
        k: page.meta("name", k.lower())
        for k in ("ContentSource", "ColumnName", "SiteName")
        if page.meta("name", k.lower())
    }
    return Article(
        title=to_text(title)[:MAX_TITLE],
        published=published,
        summary=to_text(summary),
        raw_body=raw,
        body_html=body,
        images=_images(body, page),
        flags=tuple(flags),
        warnings=tuple(warnings),
        meta=meta,
    )


# ----------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Listing:
    entries: tuple[Entry, ...] = ()
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    warnings: tuple[str, ...] = ()
    min_delay: timedelta | None = None


@dataclass
class _Cached:
    etag: str | None
    last_modified: str | None
    read_at: datetime
    article: Article


class PageSource:
    """A source that lists entries and reads each entry's article page.

    Subclasses implement ``listing(state)`` and ``spec``; this class reads at most
    ``max_articles`` articles per poll, revisits an article only after ``revisit``,
    and then with a conditional GET (articles are cached in memory per source).
    The kind's ``Options`` must have ``max_articles``, ``revisit``, ``allow_hosts``
    and ``max_bytes``.
    """

    def __init__(self, source: SourceConfig, city: CityConfig, http: PoliteClient) -> None:
        opts = source.options
        self.id = source.id
        self.url = source.url
        self.tz = city.tz
        self.http = http
        self.max_articles: int = opts.max_articles
        self.revisit: timedelta = opts.revisit
        hints = ("gb18030",) if city.language.startswith("zh") else ("cp1252",)
        self.reader = PageReader(
            source.id,
            http,
            allow_host=host_filter(source.url, opts.allow_hosts),
            hints=hints,
            max_bytes=opts.max_bytes,
        )
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._lock = threading.Lock()

    spec: ArticleSpec

    def listing(self, state: SourceState) -> Listing:
        raise NotImplementedError

    def decorate(self, article: Article) -> Article:
        """A kind's last touch to an article (e.g. jpage's credit line)."""
        return article

    def close(self) -> None:
        pass

    def acknowledge(self, result: FetchResult) -> None:
        pass

    def fetch(self, state: SourceState) -> FetchResult:
        listing = self.listing(state)
        if listing.not_modified:
            return FetchResult(
                not_modified=True, etag=listing.etag, last_modified=listing.last_modified
            )
        items: list[Item] = []
        errors: list[str] = []
        warnings = dict.fromkeys(listing.warnings)
        failures: list[FetchError] = []
        no_body = 0
        entries = listing.entries[: self.max_articles]
        for entry in entries:
            try:
                article = self._article(entry)
            except RetryLater:
                raise
            except FetchError as exc:
                failures.append(exc)
                errors.append(str(exc))
                continue
            except Disallowed:
                errors.append(f"{entry.url}: robots.txt disallows this article for syncd")
                continue
            except NoBody as exc:
                no_body += 1
                errors.append(str(exc))
                continue
            warnings.update(dict.fromkeys(article.warnings))
            items.append(self._item(entry, self.decorate(article)))
        if entries and not items:
            if no_body == len(entries):
                raise SourceAlert(
                    self.id,
                    f"layout changed: no article body found on any of {no_body} articles",
                    entries[0].url,
                )
            if len(failures) == len(entries):
                raise failures[-1]
            raise SourceAlert(self.id, f"no article could be read: {errors[0]}", entries[0].url)
        return FetchResult(
            items=tuple(items),
            etag=listing.etag,
            last_modified=listing.last_modified,
            entry_errors=tuple(errors),
            warnings=tuple(warnings),
            min_delay=listing.min_delay,
            # a page that declares a charset its bytes are not in was read right, but
            # its site is misconfigured and the next page may not be so lucky
            alerts=tuple(w for w in warnings if w.startswith("charset:") and "declares" in w),
        )

    def _article(self, entry: Entry) -> Article:
        now = self.http.now()
        with self._lock:
            cached = self._cache.get(entry.url)
        if cached is not None and now - cached.read_at < self.revisit:
            return cached.article
        page, etag, lm = self.reader.fetch(
            entry.url,
            etag=cached.etag if cached else None,
            last_modified=cached.last_modified if cached else None,
        )
        if page is None:
            if cached is None:  # a 304 to a request without validators
                raise FetchError(self.id, entry.url, "HTTP 304 to an unconditional request")
            article = cached.article
        else:
            if has_password_form(page.doc) and not _select_body(page.doc, self.spec.body):
                raise SourceAlert(
                    self.id, f"{LOGIN} (password form instead of the article)", page.url
                )
            article = read_article(page, self.spec, entry)
            article = Article(
                **{**article.__dict__, "warnings": (*page.warnings, *article.warnings)}
            )
        with self._lock:
            self._cache[entry.url] = _Cached(etag, lm, now, article)
            self._cache.move_to_end(entry.url)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return article

    def _item(self, entry: Entry, article: Article) -> Item:
        return Item(
            source_id=self.id,
            key=entry.url,
            url=entry.url,
            title=article.title,
            summary=article.summary,
            body_html=article.body_html,
            published=article.published,
            images=article.images,
            categories=tuple(v for k, v in article.meta.items() if k == "ColumnName"),
            flags=article.flags,
            echo_marker=echo_evidence(article.raw_body, entry.url),
        )
