"""``kind = "feed"``: RSS 0.9x/1.0/2.0 and Atom feeds, read with feedparser.

feedparser gets the bytes plus the response headers (never a URL: fetching is ours,
polite and bounded). ``bozo`` is fatal except for the two warnings that only say the
declared encoding or content type was wrong (the feed was still read). One broken
entry is dropped with a note; the rest of the feed goes on.
"""

from __future__ import annotations

import calendar
import email.utils
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
from ..sanitize import clean_html, to_text
from . import FetchResult, SourceState, net_errors
from .decode import decode_html

ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
MAX_TITLE = 1000


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
        if parsed.get("bozo"):
            exc = parsed.get("bozo_exception")
            if isinstance(exc, _HARMLESS_BOZO):
                warnings.append(f"feed read despite: {exc}")
            else:
                raise ParseError(self.id, resp.url, f"not a readable feed: {exc}")
        if not parsed.get("version") and not parsed.entries:
            raise ParseError(self.id, resp.url, "not a feed (no RSS or Atom root element)")
        items: list[Item] = []
        errors: list[str] = []
        seen: set[str] = set()
        for n, entry in enumerate(parsed.entries):
            try:
                item = self._item(entry)
            except _EntryProblem as exc:
                errors.append(f"entry {n + 1}: {exc}")
                continue
            if item.key in seen:
                errors.append(f"entry {n + 1}: duplicate key {item.key!r}, kept the first")
                continue
            seen.add(item.key)
            items.append(item)
        return FetchResult(
            items=tuple(items),
            etag=etag,
            last_modified=last_modified,
            entry_errors=tuple(errors),
            warnings=tuple(warnings),
            alerts=tuple(n for n in notes if n.startswith("charset:") and "declares" in n),
            min_delay=_cache_hint(resp.headers, parsed, self.http.now()),
        )

    def _item(self, entry: Any) -> Item:
        link = entry.get("link") or None
        if link:
            link = urljoin(self._base, link.strip())
        key = (entry.get("id") or link or "").strip()
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
        return Item(
            source_id=self.id,
            key=key,
            url=link,
            title=title,
            summary=to_text(summary_raw),
            body_html=body,
            published=_published(entry, self.tz),
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
        )


class _EntryProblem(Exception):
    """One entry is unusable; the feed goes on (internal to this module)."""


def _published(entry: Any, tz: ZoneInfo) -> datetime | None:
    """The entry's date in UTC; a date without zone is read in the source's zone."""
    for field in ("published", "updated", "created"):
        raw = entry.get(field)
        if not raw:
            continue
        dt = _parse_date(raw)
        if dt is not None:
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=tz)
            return dt.astimezone(UTC)
        parsed = entry.get(f"{field}_parsed")
        if parsed:
            # feedparser normalized it to UTC already; a zone-less date was taken as
            # UTC there, which is the best we can do for a format we cannot read.
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def _parse_date(raw: str) -> datetime | None:
    raw = raw.strip()
    try:
        dt = email.utils.parsedate_to_datetime(raw)
        # RFC 2822 "-0000" means "zone unknown": treat as local, like no zone.
        if raw.endswith("-0000"):
            dt = dt.replace(tzinfo=None)
        return dt
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _images(entry: Any) -> tuple[Image, ...]:
    out: list[Image] = []
    urls: set[str] = set()

    def add(url: str | None, mime: str | None, title: str | None = None) -> None:
        if url and url.startswith(("http://", "https://")) and url not in urls:
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


def _cache_hint(headers: Any, parsed: Any, now: datetime) -> timedelta | None:
    """The longer of the HTTP cache headers (``cache_hint``) and RSS <ttl>: a poll floor."""
    hints = [h for h in (cache_hint(headers, now), _ttl(parsed)) if h is not None]
    return max(hints) if hints else None


def _ttl(parsed: Any) -> timedelta | None:
    """RSS 2.0 ``<ttl>``: minutes the feed may be cached."""
    ttl = str(parsed.get("feed", {}).get("ttl") or "").strip()
    return timedelta(minutes=int(ttl)) if ttl.isdigit() else None


def make(source: SourceConfig, city: CityConfig, http: PoliteClient) -> FeedSource:
    return FeedSource(source, city, http)
