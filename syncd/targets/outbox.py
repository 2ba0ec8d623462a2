"""``kind = "outbox"``: drafts as files in a folder (the embedded default).

Per draft ``syncd-<marker>.html`` (a small standalone page) and ``syncd-<marker>.json``
(the sidecar, readable UTF-8 JSON: provenance, languages, the original's title,
summary and sanitized body beside the translation, content hash, pivot, quality
flags), so a reviewer sees both sides without the store.
Files are written atomically: temp file in the same folder, fsync, rename.

What syncd wrote is remembered as the SHA-256 of both files (the ``fingerprint``). A
draft is rewritten only while both files still have exactly that content; an edited
file means an editor took over, a missing file means it was deleted, and a sidecar
whose ``status`` an editor set to ``published`` or ``rejected`` says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config import CityConfig
from ..errors import TargetRetryable
from ..models import Draft, Remote, RemoteStatus
from ..sanitize import clean_html, escape
from ._files import atomic_write


@dataclass(frozen=True)
class Options:
    #: folder for this city's drafts (relative to the config file)
    path: Path


def _digest(*parts: bytes) -> str:
    return ":".join(hashlib.sha256(p).hexdigest() for p in parts)


def _sidecar_digest(doc: dict[str, Any]) -> str:
    rest = {k: v for k, v in doc.items() if k != "sidecar_sha256"}
    return hashlib.sha256(
        json.dumps(rest, ensure_ascii=False, sort_keys=True).encode("utf-8")
    ).hexdigest()


def _untouched(page: bytes, sidecar: bytes) -> bool:
    try:
        doc = json.loads(sidecar)
    except ValueError:
        return False
    return (
        isinstance(doc, dict)
        and doc.get("html_sha256") == hashlib.sha256(page).hexdigest()
        and doc.get("sidecar_sha256") == _sidecar_digest(doc)
    )


class OutboxTarget:
    inspectable = True

    def __init__(self, city: CityConfig, clock: Callable[[], datetime]) -> None:
        self.id = city.id
        opts: Options = city.target.options
        self.dir = Path(opts.path)
        self.clock = clock

    def close(self) -> None:
        pass

    def _paths(self, stem: str) -> tuple[Path, Path]:
        return self.dir / f"{stem}.html", self.dir / f"{stem}.json"

    def _read(self, stem: str) -> tuple[bytes, bytes] | None:
        html_path, json_path = self._paths(stem)
        try:
            return html_path.read_bytes(), json_path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:  # unreadable (permissions, I/O): try again later
            raise TargetRetryable(
                self.id, f"cannot read {html_path}: {exc.strerror or exc}"
            ) from exc

    def _render(self, draft: Draft, created_at: str) -> tuple[bytes, bytes]:
        now = self.clock().isoformat(timespec="seconds")
        body = clean_html(draft.body_html)
        page = (
            "<!DOCTYPE html>\n"
            f'<html lang="{escape(draft.target_language)}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{escape(draft.title)}</title>\n</head>\n<body>\n<article>\n"
            f"<h1>{escape(draft.title)}</h1>\n{body}\n</article>\n</body>\n</html>\n"
        )
        sidecar: dict[str, Any] = {
            "status": "draft",
            "marker": draft.marker,
            "source_url": draft.source_url,
            "source_key": draft.source_key,
            "source_id": draft.source_id,
            "source_city": draft.source_city,
            "target_city": draft.target_city,
            "source_language": draft.source_language,
            "target_language": draft.target_language,
            "original_title": draft.original_title,
            "original_summary": draft.original_summary,
            "original_body_html": clean_html(draft.original_body_html),
            "title": draft.title,
            "summary": draft.summary,
            "content_hash": draft.content_hash,
            "version": draft.version,
            "published": draft.published.isoformat() if draft.published else None,
            "images": [asdict(i) for i in draft.images],
            "categories": list(draft.categories),
            "pivot": dict(draft.pivot) if draft.pivot else None,
            "quality_flags": [asdict(f) for f in draft.flags],
            "packages": list(draft.packages),
            "created_at": created_at or now,
            "updated_at": now,
        }
        # Self-checks, so that after a crash `find` can tell files exactly as syncd
        # wrote them from files an editor changed before syncd recorded its write.
        sidecar["html_sha256"] = hashlib.sha256(page.encode("utf-8")).hexdigest()
        sidecar["sidecar_sha256"] = _sidecar_digest(sidecar)
        text = json.dumps(sidecar, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
        return page.encode("utf-8"), text.encode("utf-8")

    def _write(self, stem: str, draft: Draft, created_at: str = "") -> Remote:
        page, sidecar = self._render(draft, created_at)
        html_path, json_path = self._paths(stem)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            # temp files left by a process killed mid-write (never renamed into place)
            for stale in self.dir.glob(f".{stem}.*.tmp"):
                stale.unlink(missing_ok=True)
            # sidecar last: a crash between the two leaves a page without a sidecar,
            # which `find` does not adopt, so the next pass writes both again.
            atomic_write(html_path, page)
            atomic_write(json_path, sidecar)
        except OSError as exc:
            # permissions, a full disk, a quota, a file where the folder should be: all
            # fixed by a person, after which the draft must go out without `syncd retry`,
            # so they are retried with backoff like any transient failure
            raise TargetRetryable(
                self.id, f"cannot write {html_path}: {exc.strerror or exc}"
            ) from exc
        return Remote(remote_id=stem, fingerprint=_digest(page, sidecar), url=html_path.as_uri())

    def create(self, draft: Draft) -> Remote:
        stem = f"syncd-{draft.marker}"
        existing = self.find(draft)
        if existing is not None:
            return existing  # never overwrite: adopt what is there
        return self._write(stem, draft)

    def find(self, draft: Draft) -> Remote | None:
        stem = f"syncd-{draft.marker}"
        current = self._read(stem)
        if current is None:
            return None
        html_path, _ = self._paths(stem)
        # adopt as ours only what is still exactly what syncd wrote; otherwise the
        # fingerprint can match nothing and `inspect` reports the editor's change
        fingerprint = _digest(*current) if _untouched(*current) else "touched"
        return Remote(remote_id=stem, fingerprint=fingerprint, url=html_path.as_uri())

    def inspect(self, remote: Remote) -> RemoteStatus:
        current = self._read(remote.remote_id)
        if current is None:
            return RemoteStatus.DELETED
        if _digest(*current) == remote.fingerprint:
            return RemoteStatus.OURS
        try:
            status = json.loads(current[1]).get("status")
        except (ValueError, AttributeError):
            status = None
        if status == "published":
            return RemoteStatus.PUBLISHED
        if status in ("rejected", "deleted"):
            return RemoteStatus.DELETED
        return RemoteStatus.EDITED

    def update(self, remote: Remote, draft: Draft) -> Remote:
        current = self._read(remote.remote_id)
        created = ""
        if current is not None:
            try:
                created = str(json.loads(current[1]).get("created_at") or "")
            except ValueError:
                created = ""
        return self._write(remote.remote_id, draft, created)


def make(city: CityConfig, http: object, clock: Callable[[], datetime]) -> OutboxTarget:
    return OutboxTarget(city, clock)
