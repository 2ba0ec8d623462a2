"""``PageSource``: the source the page-reading kinds (``html``, ``jpage``) share.

A kind supplies the listing (``listing(state)``: the entries of its list or column
pages) and the ``ArticleSpec``; ``PageSource`` reads each entry's article page with
``PageReader`` (``sources/pages.py``: polite fetching, walls refused), takes title,
date and body from it with ``read_article`` (``sources/article.py``) and turns it
into an ``Item`` keyed by the entry's canonical URL (``sources/selectors.py``).

What it knows of each article page (validators, a hash of the page and of its list
entry, when to look again: ``PageRecord``) lives in a ``PageMemory`` (the store), so
that an unchanged portal costs its list requests only, in the daemon and in a new
``syncd sync`` process alike. Per entry::

    record = memory.pages(source, entry urls)[entry.url]
    list entry as before and revisit time not come  → not fetched
    list entry as before                            → conditional GET (304: unchanged)
    list entry changed, or never read               → GET
    page as read before (same hash), entry as before → unchanged, not parsed
    otherwise                                       → parsed into an Item

An unchanged article gives no item (the store knows it already). New records are
kept until ``acknowledge``: they are remembered only once the poll's items are
recorded, so a crash in between reads those articles again (nothing lost).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from ..config import CityConfig, SourceConfig
from ..decide import echo_evidence
from ..errors import FetchError, RetryLater, SourceAlert
from ..models import Item, PageRecord
from ..net.http import PoliteClient
from . import FetchResult, SourceState
from .article import Article, ArticleSpec, Entry, NoBody, read_article, select_body
from .pages import LOGIN, Disallowed, PageReader, has_password_form
from .selectors import host_filter


class PageMemory(Protocol):
    """What page sources remember of article pages (the ``Store``).

    Methods raise ``syncd.errors.StoreError`` when the memory cannot be reached;
    datetimes are UTC-aware.
    """

    def pages(self, source_id: str, urls: Sequence[str]) -> Mapping[str, PageRecord]:
        """The records of those of ``urls`` the source has read before, by URL."""

    def remember_pages(self, source_id: str, records: Sequence[PageRecord]) -> None:
        """Replace the source's records of these pages."""


class Forgetful:
    """A ``PageMemory`` that remembers nothing (every article is read every poll)."""

    def pages(self, source_id: str, urls: Sequence[str]) -> Mapping[str, PageRecord]:
        return {}

    def remember_pages(self, source_id: str, records: Sequence[PageRecord]) -> None:
        pass


@dataclass(frozen=True)
class Listing:
    entries: tuple[Entry, ...] = ()
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    warnings: tuple[str, ...] = ()
    min_delay: timedelta | None = None


def entry_hash(entry: Entry) -> str:
    """What the list said about an article: a change means it is read again."""
    said = [entry.title, entry.published.isoformat() if entry.published else "", entry.teaser]
    return hashlib.sha256(json.dumps(said, ensure_ascii=False).encode()).hexdigest()


def page_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


class _Unchanged(Exception):
    """The article is as it was when last read (internal)."""


class PageSource:
    """A source that lists entries and reads each entry's article page.

    Subclasses implement ``listing(state)`` and ``spec``; this class reads at most
    ``max_articles`` articles per poll and reads an article again only when its list
    entry changed or ``revisit`` has passed, and then with a conditional GET (see the
    module docstring). The kind's ``Options`` must have ``max_articles``, ``revisit``,
    ``allow_hosts`` and ``max_bytes``.
    """

    def __init__(
        self,
        source: SourceConfig,
        city: CityConfig,
        http: PoliteClient,
        memory: PageMemory | None = None,
    ) -> None:
        opts = source.options
        self.id = source.id
        self.url = source.url
        self.tz = city.tz
        self.http = http
        self.memory: PageMemory = memory if memory is not None else Forgetful()
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
        self._lock = threading.Lock()
        # the records of the last fetch, remembered on its acknowledge
        self._pending: tuple[FetchResult, list[PageRecord]] | None = None

    spec: ArticleSpec

    def listing(self, state: SourceState) -> Listing:
        raise NotImplementedError

    def decorate(self, article: Article) -> Article:
        """A kind's last touch to an article (e.g. jpage's credit line)."""
        return article

    def close(self) -> None:
        pass

    def acknowledge(self, result: FetchResult) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None and pending[0] is result:
            self.memory.remember_pages(self.id, pending[1])

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
        records: list[PageRecord] = []
        no_body = unchanged = 0
        entries = listing.entries[: self.max_articles]
        known = self.memory.pages(self.id, [e.url for e in entries])
        for entry in entries:
            try:
                article = self._article(entry, known.get(entry.url), records)
            except _Unchanged:
                unchanged += 1
                continue
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
        read = len(entries) - unchanged
        if read and not items:
            if no_body == read:
                raise SourceAlert(
                    self.id,
                    f"layout changed: no article body found on any of {no_body} articles",
                    entries[0].url,
                )
            if len(failures) == read:
                raise failures[-1]
            raise SourceAlert(self.id, f"no article could be read: {errors[0]}", entries[0].url)
        result = FetchResult(
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
        with self._lock:
            self._pending = (result, records)
        return result

    def _article(
        self, entry: Entry, record: PageRecord | None, records: list[PageRecord]
    ) -> Article:
        """The entry's article, read; raises ``_Unchanged`` when it is as before. Its
        new record is appended to ``records`` once it is read or revalidated."""
        now = self.http.now()
        said = entry_hash(entry)
        same_entry = record is not None and record.entry_hash == said
        if record is not None and same_entry and now < record.revisit_at:
            raise _Unchanged()
        conditional = record if same_entry else None
        page, etag, lm = self.reader.fetch(
            entry.url,
            etag=conditional.etag if conditional else None,
            last_modified=conditional.last_modified if conditional else None,
        )
        if page is None:
            if conditional is None:  # a 304 to a request without validators
                raise FetchError(self.id, entry.url, "HTTP 304 to an unconditional request")
            records.append(self._record(entry.url, etag, lm, conditional.content_hash, said))
            raise _Unchanged()
        digest = page_hash(page.text)
        if conditional is not None and conditional.content_hash == digest:
            records.append(self._record(entry.url, etag, lm, digest, said))
            raise _Unchanged()
        if has_password_form(page.doc) and not select_body(page.doc, self.spec.body):
            raise SourceAlert(self.id, f"{LOGIN} (password form instead of the article)", page.url)
        article = read_article(page, self.spec, entry)
        # remembered only once read: an article without a body is tried again next poll
        records.append(self._record(entry.url, etag, lm, digest, said))
        return Article(**{**article.__dict__, "warnings": (*page.warnings, *article.warnings)})

    def _record(
        self, url: str, etag: str | None, lm: str | None, content: str, said: str
    ) -> PageRecord:
        now = self.http.now()
        return PageRecord(url, etag, lm, content, said, now, now + self.revisit)

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
            categories=article.categories,
            flags=article.flags,
            echo_marker=echo_evidence(article.raw_body, entry.url),
            date_source=article.date_source,
            date_only=article.date_only,
        )
