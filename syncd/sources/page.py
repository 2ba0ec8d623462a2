"""``PageSource``: the source the page-reading kinds (``html``, ``jpage``) share.

A kind supplies the listing (``listing(state)``: the entries of its list or column
pages) and the ``ArticleSpec``; ``PageSource`` reads each entry's article page with
``PageReader`` (``sources/pages.py``: polite fetching, walls refused), takes title,
date and body from it with ``read_article`` (``sources/article.py``) and turns it
into an ``Item`` keyed by the entry's canonical URL (``sources/selectors.py``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config import CityConfig, SourceConfig
from ..decide import echo_evidence
from ..errors import FetchError, RetryLater, SourceAlert
from ..models import Item
from ..net.http import PoliteClient
from . import FetchResult, SourceState
from .article import Article, ArticleSpec, Entry, NoBody, read_article, select_body
from .pages import LOGIN, Disallowed, PageReader, has_password_form
from .selectors import host_filter

#: articles kept in memory per source for conditional GETs and revisits
CACHE_SIZE = 500


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
            if has_password_form(page.doc) and not select_body(page.doc, self.spec.body):
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
            date_source=article.date_source,
            date_only=article.date_only,
        )
