"""The item a partner pushes to an inbound source, and how it becomes an ``Item``.

Pure: no I/O. ``parse_item`` validates a pushed JSON document (and is what the
server checks before queueing it); ``to_item`` turns a validated document into a
sanitized ``Item`` with UTC dates when the source reads the queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..decide import echo_evidence
from ..models import Image, Item
from ..sanitize import clean_html, to_text
from .decode import strip_controls, to_utc

MAX_TITLE = 1000
MAX_KEY = 1000
MAX_LIST = 50


class SchemaError(ValueError):
    """A pushed document is not an item (internal; becomes a 422 with this text)."""


_FIELDS = {"key", "title", "url", "summary", "body_html", "published", "images", "categories"}


def _str(
    doc: Mapping[str, Any], name: str, limit: int | None = None, required: bool = False
) -> str:
    value = doc.get(name)
    if value is None:
        if required:
            raise SchemaError(f"{name}: missing")
        return ""
    if not isinstance(value, str):
        raise SchemaError(f"{name}: expected a string")
    if limit is not None and len(value) > limit:
        raise SchemaError(f"{name}: longer than {limit} characters")
    return value


def parse_item(doc: Any) -> dict[str, Any]:
    """Validate a pushed item; returns it normalized (raises ``SchemaError``).

    The document is the item itself, or a Standard Webhooks envelope
    ``{"type": …, "timestamp": …, "data": {item}}``. Keys: ``key`` (required, the
    item's stable id at the partner), ``title`` (required), ``url``, ``summary``,
    ``body_html``, ``published`` (ISO 8601; without offset: the city's local time),
    ``images`` (``[{"url", "mime", "title"}]``), ``categories`` (strings). Unknown keys
    are refused, so a misspelt ``body`` is not silently an empty body.
    """
    if isinstance(doc, dict) and "type" in doc and isinstance(doc.get("data"), dict):
        doc = doc["data"]
    if not isinstance(doc, dict):
        raise SchemaError("expected a JSON object")
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise SchemaError(f"unknown key {unknown[0]!r}; expected: {', '.join(sorted(_FIELDS))}")
    key = _str(doc, "key", MAX_KEY, required=True).strip()
    if not key:
        raise SchemaError("key: empty")
    out: dict[str, Any] = {
        "key": key,
        "title": _str(doc, "title", MAX_TITLE, required=True),
        "summary": _str(doc, "summary"),
        "body_html": _str(doc, "body_html"),
    }
    url = _str(doc, "url", 2000)
    if url and not url.startswith(("http://", "https://")):
        raise SchemaError("url: expected an http(s) URL")
    out["url"] = url or None
    published = _str(doc, "published", 64)
    if published:
        try:
            datetime.fromisoformat(published.replace("Z", "+00:00"))
        except ValueError:
            raise SchemaError("published: expected an ISO 8601 date-time") from None
    out["published"] = published or None
    images = doc.get("images") or []
    if not isinstance(images, list) or len(images) > MAX_LIST:
        raise SchemaError(f"images: expected a list of at most {MAX_LIST} objects")
    out["images"] = []
    for i, img in enumerate(images):
        if not isinstance(img, dict) or not isinstance(img.get("url"), str):
            raise SchemaError(f"images[{i}]: expected an object with a url")
        if not img["url"].startswith(("http://", "https://")):
            raise SchemaError(f"images[{i}].url: expected an http(s) URL")
        out["images"].append({k: _str(img, k, 2000) or None for k in ("url", "mime", "title")})
    cats = doc.get("categories") or []
    if (
        not isinstance(cats, list)
        or len(cats) > MAX_LIST
        or not all(isinstance(c, str) for c in cats)
    ):
        raise SchemaError(f"categories: expected a list of at most {MAX_LIST} strings")
    out["categories"] = [c[:200] for c in cats]
    if not out["title"].strip() and not out["body_html"].strip():
        raise SchemaError("title and body_html are both empty")
    return out


def to_item(source_id: str, doc: Mapping[str, Any], tz: ZoneInfo) -> Item:
    """An ``Item`` from a validated document (sanitized, dates in UTC)."""
    published = None
    if doc.get("published"):
        dt = datetime.fromisoformat(str(doc["published"]).replace("Z", "+00:00"))
        published = to_utc(dt, tz)  # None when UTC cannot hold it (year 1, 9999)
    raw = strip_controls(doc.get("body_html") or "")
    body = clean_html(raw)
    if body and not body.lstrip().startswith("<"):
        body = f"<p>{body}</p>"
    return Item(
        source_id=source_id,
        key=doc["key"],
        url=doc.get("url"),
        title=to_text(strip_controls(doc["title"]))[:MAX_TITLE],
        summary=to_text(doc.get("summary") or ""),
        body_html=body,
        published=published,
        images=tuple(
            Image(url=i["url"], mime=i.get("mime"), title=i.get("title"))
            for i in doc.get("images", [])
        ),
        categories=tuple(c for c in (to_text(c) for c in doc.get("categories", [])) if c),
        echo_marker=echo_evidence(raw, doc.get("url"), doc["key"]),
    )
