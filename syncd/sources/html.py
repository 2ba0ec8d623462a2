"""``kind = "html"``: a list page plus article pages, read with CSS selectors.

The list page's entries are found with the ``item`` selector, each entry's link,
title, date and teaser with selectors inside it; ``next_page`` leads to further list
pages. Reading the articles (``page``, ``article``), the wall checks (``pages``) and
the item key (``selectors``) are the shared page machinery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..config import CityConfig, Duration, SourceConfig
from ..errors import FetchError, SourceAlert
from ..net.http import PoliteClient, cache_hint
from ..sanitize import to_text
from . import SourceState
from .article import ArticleSpec, Entry, element_text
from .decode import find_date
from .page import Listing, PageMemory, PageSource
from .pages import LOGIN, Disallowed, Page, has_password_form
from .selectors import canonical_url, css, regex_problem, selector_problem

# ----------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    #: CSS selector of one entry on the list page (required)
    item: str
    #: within an entry: the link to the article (the entry itself when it is an <a>)
    link: str = "a[href]"
    #: within an entry: its title (default: the link's title attribute or text)
    title: str = ""
    #: within an entry: its date (a datetime attribute or the text)
    date: str = ""
    #: within an entry: its teaser, used as the item's summary
    teaser: str = ""
    #: on the list page: the link to the next list page
    next_page: str = ""
    #: at most this many list pages per poll
    pages: int = 1
    #: on the article: the body container(s); empty → the generic extractor
    body: str = ""
    #: on the article: parts of the body to drop (share buttons, galleries, …)
    remove: tuple[str, ...] = ()
    #: on the article: its date, when the page has no date metadata
    article_date: str = ""
    #: on the article: its own teaser, the item's summary (a list crops long ones)
    article_teaser: str = ""
    #: on the article: its categories, one per matched element
    categories: str = ""
    #: on the article: its images outside the body (<img> or their containers)
    images: str = ""
    #: strptime formats tried before the built-in date patterns
    date_formats: tuple[str, ...] = ()
    #: regular expression an article URL must contain (re.search); empty → any on the host
    allow: str = ""
    #: hosts besides the list page's own that articles and redirects may be on
    allow_hosts: tuple[str, ...] = ()
    #: at most this many articles read per poll (the first entries of the list)
    max_articles: int = 20
    #: body text shorter than this (characters) is flagged "tiny-body"
    min_body: int = 200
    #: an article read less than this long ago is not fetched again
    revisit: Duration = field(default_factory=lambda: Duration(hours=6))
    #: byte cap per page; 0 uses http.max_bytes
    max_bytes: int = 0


def check_options(source: SourceConfig, options: Options) -> tuple[str, str] | None:
    """Validate what annotations cannot: URL, selectors, the allow pattern, limits."""
    if not source.url.startswith(("http://", "https://")):
        return "url", "expected the list page's http(s) URL"
    for key in (
        "item", "link", "title", "date", "teaser", "next_page", "body", "article_date",
        "article_teaser", "categories", "images",
    ):  # fmt: skip
        sel = getattr(options, key)
        problem = (
            (None if key != "item" else "expected a CSS selector")
            if not sel
            else selector_problem(sel)
        )
        if problem:
            return key, problem
    for i, sel in enumerate(options.remove):
        problem = selector_problem(sel)
        if problem:
            return f"remove[{i}]", problem
    if options.allow and (problem := regex_problem(options.allow)):
        return "allow", problem
    if options.pages < 1:
        return "pages", "expected at least 1"
    if options.max_articles < 1:
        return "max_articles", "expected at least 1"
    return None


class HtmlSource(PageSource):
    def __init__(
        self,
        source: SourceConfig,
        city: CityConfig,
        http: PoliteClient,
        memory: PageMemory | None = None,
    ) -> None:
        opts: Options = source.options
        super().__init__(source, city, http, memory)
        self.options = opts
        sel = css
        self._item_sel = sel(opts.item)
        self._link = sel(opts.link)
        self._title = sel(opts.title)
        self._date = sel(opts.date)
        self._teaser = sel(opts.teaser)
        self._next = sel(opts.next_page)
        self._allow = re.compile(opts.allow) if opts.allow else None
        self.spec = ArticleSpec(
            tz=city.tz,
            body=[s for s in (sel(opts.body),) if s is not None],
            remove=[sel(r) for r in opts.remove],
            date=sel(opts.article_date),
            date_formats=opts.date_formats,
            min_body=opts.min_body,
            teaser=sel(opts.article_teaser),
            categories=sel(opts.categories),
            images=sel(opts.images),
        )

    def listing(self, state: SourceState) -> Listing:
        page, etag, lm = self._list_page(self.url, state.etag, state.last_modified)
        if page is None:
            return Listing(not_modified=True, etag=etag, last_modified=lm)
        warnings = list(page.warnings)
        min_delay = cache_hint(page.headers, self.http.now())
        matched = self._item_sel(page.doc)
        if not matched:
            if has_password_form(page.doc):
                raise SourceAlert(self.id, f"{LOGIN} (password form instead of the list)", page.url)
            raise SourceAlert(
                self.id,
                f'layout changed: list selector matched 0 items (item = "{self.options.item}")',
                page.url,
            )
        entries = self._entries(page, matched)
        if not entries:
            raise SourceAlert(
                self.id,
                f"layout changed: list selector matched {len(matched)} items "
                "but none had an allowed article link",
                page.url,
            )
        seen_pages = {page.url}
        for _ in range(self.options.pages - 1):
            nxt = self._next_url(page)
            if nxt is None or nxt in seen_pages:
                break
            seen_pages.add(nxt)
            try:
                more, _e, _l = self._list_page(nxt, None, None)
            except (FetchError, Disallowed) as exc:
                warnings.append(f"list page {nxt} not read: {exc}")
                break
            assert more is not None
            page = more
            known = {e.url for e in entries}
            entries.extend(
                e for e in self._entries(page, self._item_sel(page.doc)) if e.url not in known
            )
        return Listing(
            tuple(entries),
            etag=etag,
            last_modified=lm,
            warnings=tuple(warnings),
            min_delay=min_delay,
        )

    def _list_page(
        self, url: str, etag: str | None, lm: str | None
    ) -> tuple[Page | None, str | None, str | None]:
        try:
            return self.reader.fetch(url, etag=etag, last_modified=lm)
        except Disallowed:
            raise SourceAlert(
                self.id, "robots.txt disallows the list page for syncd; not fetched", url
            ) from None

    def _next_url(self, page: Page) -> str | None:
        if self._next is None:
            return None
        for el in self._next(page.doc):
            href = el.get("href") or next(
                (a.get("href") for a in el.iter("a") if a.get("href")), None
            )
            if href and href.startswith(("http://", "https://")):
                host = urlsplit(href).hostname or ""
                return href if self.reader.allow_host(host) else None
        return None

    def _entries(self, page: Page, matched: list[Any]) -> list[Entry]:
        out: list[Entry] = []
        seen: set[str] = set()
        for el in matched:
            link = self._first(el, self._link)
            if link is None and el.tag == "a":
                link = el
            href = link.get("href") if link is not None else None
            if link is not None and not href:
                inner = next((a for a in link.iter("a") if a.get("href")), None)
                href = inner.get("href") if inner is not None else None
            if not href or not href.startswith(("http://", "https://")):
                continue
            key = canonical_url(href)
            if key in seen or not self.reader.allow_host(urlsplit(key).hostname or ""):
                continue
            if self._allow is not None and not self._allow.search(key):
                continue
            seen.add(key)
            t = self._first(el, self._title)
            title = (
                element_text(t)
                if t is not None
                else (link.get("title") or element_text(link))
                if link is not None
                else ""
            )
            d = self._first(el, self._date)
            date = (
                find_date(d.get("datetime") or element_text(d), self.tz, self.options.date_formats)
                if d is not None
                else None
            )
            teaser = self._first(el, self._teaser)
            out.append(
                Entry(
                    key,
                    to_text(title),
                    date[0] if date else None,
                    element_text(teaser) if teaser is not None else "",
                    date_only=date[1] if date else False,
                )
            )
        return out

    @staticmethod
    def _first(el: Any, sel: Any) -> Any:
        if sel is None:
            return None
        found = sel(el)
        return found[0] if found else None


def make(
    source: SourceConfig, city: CityConfig, http: PoliteClient, memory: PageMemory | None = None
) -> HtmlSource:
    """The source; ``memory`` (the store) remembers its article pages across polls."""
    return HtmlSource(source, city, http, memory)
