"""``kind = "feed"``: RSS 0.9x/1.0/2.0 and Atom feeds, read with feedparser.

feedparser gets the bytes plus the response headers (never a URL: fetching is ours,
polite and bounded). A feed that is not well-formed XML (HTML entities such as
``&nbsp;``, a stray ``&``) is read with feedparser's loose parser and a warning; only
a document in which feedparser finds no feed at all is refused. One broken entry is
dropped with a note; the rest of the feed goes on. Dates and ``<ttl>`` never raise: a
date UTC cannot hold is no date, a ``<ttl>`` beyond ``MAX_TTL`` is capped, each with a
note.
"""

from __future__ import annotations

import calendar
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import feedparser

from ..config import CityConfig, SourceConfig
from ..decide import echo_evidence
from ..errors import ParseError
from ..models import Image, Item
from ..net.http import PoliteClient, cache_hint
from ..sanitize import clean_html, http_url, to_text
from . import FetchResult, SourceState, net_errors
from .decode import decode_html, rfc2822, to_utc

ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
MAX_TITLE = 1000
#: a longer RSS <ttl> is capped (a poll floor of months would silence the source)
MAX_TTL = timedelta(days=1)
#: notes about single entries' dates, at most (the rest are counted)
MAX_DATE_NOTES = 10


@dataclass(frozen=True)
class Options:
    #: byte cap for this feed; 0 uses http.max_bytes
    max_bytes: int = 0


class FeedSource:
    def __init__(self, source: SourceConfig, city: CityConfig, http: PoliteClient) -> None:
        self.id = source.id
        self.url = source.url
        self.tz = city.tz
        self.options: Options = source.options or Options()
        self.http = http
        self._base = source.url
        self._hints = ("gb18030",) if city.language.startswith("zh") else ("cp1252",)

    def close(self) -> None:
        pass

    def acknowledge(self, result: FetchResult) -> None:
        pass

    def fetch(self, state: SourceState) -> FetchResult:
        with net_errors(self.id):
            resp = self.http.get(
                self.id,
                self.url,
                etag=state.etag,
                last_modified=state.last_modified,
                accept=ACCEPT,
                max_bytes=self.options.max_bytes or None,
            )
        etag = resp.headers.get("etag") or state.etag
        last_modified = resp.headers.get("last-modified") or state.last_modified
        if resp.not_modified:
            return FetchResult(not_modified=True, etag=etag, last_modified=last_modified)
        # The charset is settled here, with the same rules as for pages (a header or
        # declaration that does not fit the bytes loses to one that does; valid UTF-8
        # wins over a single-byte label), and handed to feedparser as the one truth.
        _text, codec, notes = decode_html(resp.content, resp.headers, self._hints)
        headers = {k: v for k, v in resp.headers.items() if k != "content-type"}
        headers["content-type"] = f"application/xml; charset={codec}"
        # A stream, never bytes: feedparser open()s a bytes argument as a *file name*
        # when it can, so a body of b"/etc/passwd" would read the server's own files.
        # No content-location: feedparser would then also "resolve" non-URL guids
        # against the feed URL, and item keys would change with the feed's address.
        # feedparser's own sanitizer and URI resolver are off: nh3 sanitizes and syncd
        # resolves URLs below, and the two passes were half of the parse time.
        parsed = feedparser.parse(
            io.BytesIO(resp.content),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
        self._base = resp.url
        warnings: list[str] = list(notes)
        readable = bool(parsed.get("version") or parsed.entries)
        if parsed.get("bozo"):
            exc = parsed.get("bozo_exception")
            if isinstance(exc, _HARMLESS_BOZO):
                warnings.append(f"feed read despite: {exc}")
            elif readable:
                # Not well-formed XML (an HTML entity such as &nbsp; that XML does not
                # define, a stray "&"): feedparser's loose parser recovered the feed.
                warnings.append(f"feed read loosely (not well-formed XML): {exc}")
            else:
                raise ParseError(self.id, resp.url, f"not a readable feed: {exc}")
        if not readable:
            raise ParseError(self.id, resp.url, "not a feed (no RSS or Atom root element)")
        items: list[Item] = []
        errors: list[str] = []
        seen: set[str] = set()
        date_notes: list[str] = []
        for n, entry in enumerate(parsed.entries):
            try:
                item, date_note = self._item(entry)
            except _EntryProblem as exc:
                errors.append(f"entry {n + 1}: {exc}")
                continue
            if date_note:
                date_notes.append(f"entry {n + 1}: {date_note}")
            if item.key in seen:
                errors.append(f"entry {n + 1}: duplicate key {item.key!r}, kept the first")
                continue
            seen.add(item.key)
            items.append(item)
        warnings.extend(date_notes[:MAX_DATE_NOTES])
        if len(date_notes) > MAX_DATE_NOTES:
            warnings.append(
                f"{len(date_notes) - MAX_DATE_NOTES} more entries without a usable date"
            )
        ttl, ttl_note = _ttl(parsed)
        if ttl_note:
            warnings.append(ttl_note)
        hints = [h for h in (cache_hint(resp.headers, self.http.now()), ttl) if h is not None]
        return FetchResult(
            items=tuple(items),
            etag=etag,
            last_modified=last_modified,
            entry_errors=tuple(errors),
            warnings=tuple(warnings),
            alerts=tuple(n for n in notes if n.startswith("charset:") and "declares" in n),
            min_delay=max(hints) if hints else None,  # the longer of HTTP caching and <ttl>
        )

    def _item(self, entry: Any) -> tuple[Item, str | None]:
        """The entry as an item, and a note when its date had to be dropped."""
        raw_link = (entry.get("link") or "").strip()
        # Only http(s) leaves syncd: a javascript:/data:/file: link is no link, though
        # it may still tell the entry apart (the key).
        link = http_url(urljoin(self._base, raw_link)) if raw_link else None
        key = (entry.get("id") or link or raw_link).strip()
        if not key:
            raise _EntryProblem("no guid and no link: cannot tell it apart from other entries")
        raw_title = entry.get("title", "")
        title = to_text(raw_title)[:MAX_TITLE]
        contents = entry.get("content") or []
        body_raw = ""
        for c in contents:  # content:encoded / atom:content preferred over description
            if c.get("value"):
                body_raw = c["value"]
                break
        summary_raw = entry.get("summary", "")
        if not body_raw:
            body_raw = summary_raw
        if not title and not body_raw:
            raise _EntryProblem("neither title nor content")
        echo = echo_evidence(body_raw, summary_raw, link, entry.get("id"))
        body = clean_html(body_raw, self._base)
        if body and not body.lstrip().startswith("<"):
            body = f"<p>{body}</p>"
        published, date_note, date_field = _published(entry, self.tz)
        item = Item(
            source_id=self.id,
            key=key,
            url=link,
            title=title,
            summary=to_text(summary_raw),
            body_html=body,
            published=published,
            images=_images(entry),
            categories=tuple(
                t
                for t in (
                    to_text(tag.get("term") or tag.get("label") or "")
                    for tag in entry.get("tags", [])
                )
                if t
            ),
            echo_marker=echo,
            date_source=f"feed <{date_field}>" if date_field else "",
        )
        return item, date_note


class _EntryProblem(Exception):
    """One entry is unusable; the feed goes on (internal to this module)."""


def _published(entry: Any, tz: ZoneInfo) -> tuple[datetime | None, str | None, str | None]:
    """The entry's date in UTC (a date without zone is read in the source's zone), a
    note when a date is there but unusable: unreadable, or beyond what UTC can hold
    (year 1 or 9999 with an offset), and the field it came from. Never raises."""
    unusable: list[str] = []
    for field in ("published", "updated", "created"):
        # dict.get: feedparser's own get() maps a missing "updated" to "published",
        # with a DeprecationWarning
        raw = dict.get(entry, field)
        if not raw:
            continue
        dt = _parse_date(str(raw))
        parsed = dict.get(entry, f"{field}_parsed")
        if dt is None and parsed:
            # feedparser normalized it to UTC already; a zone-less date was taken as
            # UTC there, which is the best we can do for a format we cannot read.
            dt = _from_struct(parsed)
        utc = to_utc(dt, tz) if dt is not None else None
        if utc is not None:
            return utc, None, field
        unusable.append(str(raw)[:60])
    if not unusable:
        return None, None, None
    return None, f"date {unusable[0]!r} unreadable or out of range; kept without a date", None


def _from_struct(parsed: Any) -> datetime | None:
    """A feedparser ``*_parsed`` struct (UTC) as a datetime, for the years news can
    have; None otherwise. feedparser misreads the edges of the calendar: year 1 with
    an offset becomes year 0 (which no datetime holds), "Jan 0001" becomes year 100."""
    try:
        dt = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return dt if 1970 <= dt.year <= 2200 else None


def _parse_date(raw: str) -> datetime | None:
    raw = raw.strip()
    dt = rfc2822(raw)  # "-0000" means "zone unknown": naive, read as local
    if dt is not None:
        return dt
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _images(entry: Any) -> tuple[Image, ...]:
    out: list[Image] = []
    urls: set[str] = set()

    def add(url: str | None, mime: str | None, title: str | None = None) -> None:
        url = http_url(url)
        if url and url not in urls:
            urls.add(url)
            out.append(Image(url=url, mime=mime or None, title=title or None))

    for enc in entry.get("enclosures", []):
        mime = enc.get("type", "")
        if mime.startswith("image/"):
            add(enc.get("href") or enc.get("url"), mime)
    for media in entry.get("media_content", []):
        if media.get("medium") == "image" or str(media.get("type", "")).startswith("image/"):
            add(media.get("url"), media.get("type"))
    for thumb in entry.get("media_thumbnail", []):
        add(thumb.get("url"), None)
    return tuple(out)


def _ttl(parsed: Any) -> tuple[timedelta | None, str | None]:
    """RSS 2.0 ``<ttl>``, minutes the feed may be cached, capped at ``MAX_TTL``; and a
    note when it was capped or is not a number. Never raises."""
    ttl = str(parsed.get("feed", {}).get("ttl") or "").strip()
    if not ttl:
        return None, None
    if not (ttl.isascii() and ttl.isdigit()):
        return None, f"<ttl> {ttl[:20]!r} is not a number of minutes; ignored"
    if len(ttl) > 7 or timedelta(minutes=int(ttl)) > MAX_TTL:
        return MAX_TTL, f"<ttl> {ttl[:20]} minutes capped at {MAX_TTL}"
    return timedelta(minutes=int(ttl)), None


def make(source: SourceConfig, city: CityConfig, http: PoliteClient) -> FeedSource:
    return FeedSource(source, city, http)
