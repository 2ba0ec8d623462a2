"""``kind = "feed"``: drafts as entries of an Atom feed the partner's CMS imports.

For a CMS without a write API (TYPO3 with a news importer, WP RSS Aggregator, a
Hanweb site's collection module): each draft version is one entry file
``syncd-<marker>.json`` in the city's folder, written atomically; the daemon's web
front door serves the newest ``max_entries`` of them as Atom at
``/feed/<city id>.atom`` (``syncd.web.feed``), behind ``?token=`` when ``token`` is
set. Entries carry the attribution with syncd's marker as text, so when the partner
republishes them, echo suppression still recognises them.

A feed is fire-and-forget like a webhook: the importer owns what happens next, so the
target is not ``inspectable``; ``find`` returns None and ``create`` is idempotent
(the same marker rewrites the same file), ``update`` writes the new version (the
entry's ``updated`` changes, so importers that follow updates take it).

``read_entries(folder)`` is what the front door renders; ``atom(…)`` renders it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ..config import CityConfig, Secret
from ..errors import TargetRetryable
from ..models import Draft, Remote, RemoteStatus
from ..sanitize import clean_html
from ._files import atomic_write


@dataclass(frozen=True)
class Options:
    #: folder of this city's feed entries (relative to the config file)
    path: Path
    #: when set, the feed is served only with ?token=<this secret>
    token: Secret | None = None
    #: how many of the newest entries the feed shows
    max_entries: int = 50
    #: the feed's title (default: "syncd: <city name>")
    title: str = ""


def _fingerprint(draft: Draft) -> str:
    raw = f"{draft.marker}\x00{draft.version}\x00{draft.content_hash}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class FeedTarget:
    inspectable = False

    def __init__(self, city: CityConfig, clock: Callable[[], datetime]) -> None:
        self.id = city.id
        opts: Options = city.target.options
        self.dir = Path(opts.path)
        self.clock = clock

    def close(self) -> None:
        pass

    def _write(self, draft: Draft) -> Remote:
        entry = {
            "marker": draft.marker,
            "version": draft.version,
            "language": draft.target_language,
            "title": draft.title,
            "summary": draft.summary,
            "body_html": clean_html(draft.body_html),
            "source_url": draft.source_url,
            "source_city": draft.source_city_name,
            "published": draft.published.isoformat() if draft.published else None,
            "updated": self.clock().isoformat(timespec="seconds"),
            "images": [asdict(i) for i in draft.images],
            "categories": list(draft.categories),
        }
        path = self.dir / f"syncd-{draft.marker}.json"
        data = (json.dumps(entry, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
        except OSError as exc:
            raise TargetRetryable(self.id, f"cannot write {path}: {exc.strerror or exc}") from exc
        return Remote(remote_id=draft.marker, fingerprint=_fingerprint(draft), url=None)

    def create(self, draft: Draft) -> Remote:
        return self._write(draft)

    def find(self, draft: Draft) -> Remote | None:
        return None  # rewriting the marker's file is safe: it is the same entry

    def inspect(self, remote: Remote) -> RemoteStatus:
        return RemoteStatus.OURS  # the importer owns editorial state

    def update(self, remote: Remote, draft: Draft) -> Remote:
        return self._write(draft)


def make(city: CityConfig, http: object, clock: Callable[[], datetime]) -> FeedTarget:
    return FeedTarget(city, clock)


# -------------------------------------------------------------------- the feed


def read_entries(folder: Path, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` entries; unreadable files are left out. Files are read
    newest first (by modification time, which each write sets) and only until
    ``limit`` entries are found, so a request costs the same after years of drafts."""
    files: list[tuple[float, Path]] = []
    try:
        for f in folder.glob("syncd-*.json"):
            try:
                files.append((f.stat().st_mtime, f))
            except OSError:  # removed meanwhile
                continue
    except OSError:
        return []
    files.sort(key=lambda p: p[0], reverse=True)
    entries: list[dict[str, Any]] = []
    for _mtime, f in files:
        if len(entries) >= limit:
            break
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("marker"), str):
            entries.append(doc)
    entries.sort(key=lambda e: str(e.get("updated") or ""), reverse=True)
    return entries


def atom(
    entries: Sequence[dict[str, Any]], *, feed_id: str, title: str, self_url: str, updated: str
) -> str:
    """An Atom 1.0 document of ``entries`` (RFC 4287); HTML content escaped as text."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<id>{escape(feed_id)}</id>",
        f"<title>{escape(title)}</title>",
        f"<updated>{escape(entries[0]['updated'] if entries else updated)}</updated>",
        f'<link rel="self" href={quoteattr(self_url)}/>',
        "<author><name>syncd</name></author>",
        "<generator>syncd</generator>",
    ]
    for e in entries:
        lang = quoteattr(str(e.get("language") or ""))
        out.append(f"<entry xml:lang={lang}>")
        out.append(f"<id>urn:syncd:{escape(e['marker'])}</id>")
        out.append(f"<title>{escape(str(e.get('title') or ''))}</title>")
        out.append(f"<updated>{escape(str(e.get('updated') or updated))}</updated>")
        if e.get("published"):
            out.append(f"<published>{escape(str(e['published']))}</published>")
        if e.get("source_url"):
            out.append(f'<link rel="via" href={quoteattr(str(e["source_url"]))}/>')
        for img in e.get("images") or []:
            if isinstance(img, dict) and isinstance(img.get("url"), str):
                mime = quoteattr(str(img.get("mime") or "image/jpeg"))
                out.append(f'<link rel="enclosure" type={mime} href={quoteattr(img["url"])}/>')
        for c in e.get("categories") or []:
            out.append(f"<category term={quoteattr(str(c))}/>")
        if e.get("summary"):
            out.append(f"<summary>{escape(str(e['summary']))}</summary>")
        out.append(f'<content type="html">{escape(str(e.get("body_html") or ""))}</content>')
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out) + "\n"
