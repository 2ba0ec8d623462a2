"""Value objects that travel between syncd's modules.

Contains no business logic and no I/O: frozen dataclasses and enums only. Every
datetime here is timezone-aware UTC (promise 8); conversion from a source's local
time happens at the edge, in ``syncd.sources``.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Marker written into every draft syncd produces. It survives sanitizers (plain text
#: in the attribution block) so that our own output is recognised when it comes back
#: through the partner's feed (promise 4, "no echo").
MARKER_PREFIX = "syncd:"
MARKER_RE = re.compile(r"syncd:([0-9a-f]{16})")
#: The WordPress slug / outbox file stem that carries the same marker.
SLUG_RE = re.compile(r"syncd-([0-9a-f]{16})")


@dataclass(frozen=True)
class Image:
    url: str
    mime: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Item:
    """One news item as a source delivers it, normalized and sanitized.

    ``key`` is the stable identity within its source (guid, else link, else the
    canonical URL). ``published`` is UTC or None when the source gave no date.
    ``flags`` are notes from the source for the editor (e.g. ``generic-extractor``).
    """

    source_id: str
    key: str
    url: str | None
    title: str
    summary: str = ""
    body_html: str = ""
    published: datetime | None = None
    images: tuple[Image, ...] = ()
    categories: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    #: raw marker evidence found before sanitizing (echo detection); not hashed.
    echo_marker: str | None = None
    #: where ``published`` came from (``meta:pubdate``, ``page text``, ``list``, …)
    #: and whether it is a day without a time (midnight local); not hashed, not stored.
    date_source: str = ""
    date_only: bool = False

    def content_hash(self) -> str:
        """Hash over normalized title, body and images; volatile fields excluded."""
        return content_hash(self.title, self.summary, self.body_html, self.images)


_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def content_hash(title: str, summary: str, body_html: str, images: tuple[Image, ...]) -> str:
    payload = json.dumps(
        {
            "t": _norm(title),
            "s": _norm(summary),
            "b": _norm(body_html),
            "i": sorted(img.url for img in images),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def marker_for(source_id: str, item_key: str, target_id: str) -> str:
    """Deterministic 16-hex marker of one item delivered to one target."""
    raw = f"{source_id}\x00{item_key}\x00{target_id}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


class DeliveryState(enum.StrEnum):
    """Lifecycle of one item at one partner target (see DESIGN.md)."""

    PENDING = "pending"  # known, not yet pushed (waiting for translation or push)
    CREATING = "creating"  # row written before the remote create: reconcile after a crash
    PUSHED = "pushed"  # draft exists and is exactly what syncd last wrote
    EDITED = "edited"  # an editor touched it: never written again
    PUBLISHED = "published"  # editor published it: never written again
    REJECTED = "rejected"  # deleted/trashed by an editor: never re-created
    PARKED = "parked"  # gave up after N attempts; `syncd retry` re-queues
    SKIPPED = "skipped"  # filtered: too old at first activation, echo, …
    #: translated and waiting in the editors' desk (a city with ``review = "desk"``)
    HELD = "held"
    #: approved in the desk: handed to the target by the next delivery step
    APPROVED = "approved"

    @property
    def hands_off(self) -> bool:
        """States in which syncd never writes the remote copy again."""
        return self in (DeliveryState.EDITED, DeliveryState.PUBLISHED, DeliveryState.REJECTED)


class RemoteStatus(enum.StrEnum):
    """What a target says about a draft syncd wrote earlier."""

    OURS = "ours"  # unchanged since syncd's last write
    EDITED = "edited"
    PUBLISHED = "published"
    DELETED = "deleted"


@dataclass(frozen=True)
class Remote:
    """Where a draft lives at a target and what syncd last wrote there.

    ``fingerprint`` is target-specific evidence of syncd's last write (outbox: file
    hashes; WordPress: ``modified_gmt``), compared by the target's ``inspect``.
    """

    remote_id: str
    fingerprint: str = ""
    url: str | None = None


@dataclass(frozen=True)
class QualityFlag:
    """A note for the editor about one translated sentence."""

    kind: str  # repetition | untranslated | length-ratio | numbers | placeholder | glossary
    sentence: int  # index of the sentence within its field, -1 for the whole text
    detail: str = ""
    field: str = "body"


@dataclass(frozen=True)
class Segment:
    """One sentence of a translated field, aligned for the editors' desk.

    ``field`` is ``title``, ``summary`` or ``body``; ``index`` counts the field's
    sentences from 0 (the ``QualityFlag.sentence`` of flags on this sentence);
    ``block`` counts the field's blocks (paragraphs, headings, list items) from 0.
    ``source``, ``pivot`` and ``target`` are plain text (``pivot`` empty without an
    English pivot); ``target_html`` is the translated sentence with its inline markup
    as it was assembled into the body.
    """

    field: str
    block: int
    index: int
    source: str
    target: str
    pivot: str = ""
    target_html: str = ""


@dataclass(frozen=True)
class Translation:
    """An item's text in one target language, with the English pivot when used.

    ``segments`` align it sentence by sentence with the original (empty when the
    translator did not say: the desk then shows whole fields side by side)."""

    language: str
    title: str
    summary: str
    body_html: str
    pivot: Mapping[str, str] | None = None  # {"title":…, "summary":…, "body_html":…}
    flags: tuple[QualityFlag, ...] = ()
    packages: tuple[str, ...] = ()  # "translate-de_en@1.0", …
    segments: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class Draft:
    """Everything a target needs to create or update one draft."""

    marker: str
    source_id: str
    source_key: str
    source_url: str | None
    source_city: str
    source_city_name: str
    target_city: str
    source_language: str
    target_language: str
    original_title: str
    title: str
    summary: str
    body_html: str  # translated body, attribution block already appended
    attribution_html: str
    content_hash: str
    version: int
    published: datetime | None = None
    images: tuple[Image, ...] = ()
    categories: tuple[str, ...] = ()
    pivot: Mapping[str, str] | None = None
    flags: tuple[QualityFlag, ...] = ()
    packages: tuple[str, ...] = ()
    original_body_html: str = ""
    original_summary: str = ""


# ---------------------------------------------------------------- what sources give


@dataclass(frozen=True)
class SourceState:
    """What the store remembers of a source between polls."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """One poll's outcome when the source answered.

    ``not_modified`` means a 304 (or equivalent): nothing was parsed, ``items`` is empty.
    ``entry_errors`` name entries that were dropped (one bad entry does not spoil the
    feed). ``min_delay`` is the source's own lower bound for the next poll (Cache-Control
    max-age, Expires, RSS ``<ttl>``). ``warnings`` are non-fatal notes for ``status``.
    ``alerts`` say the source worked but a human should look (a page declaring the
    wrong charset): shown as alerts in ``status`` while its items still go through.
    """

    items: tuple[Item, ...] = ()
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    entry_errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    min_delay: timedelta | None = None
    alerts: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageRecord:
    """What a page source remembers of one article page between polls and processes.

    ``etag``/``last_modified`` are the page's validators for a conditional GET;
    ``content_hash`` is a hash of the page as read (a server without validators that
    sends the same page again is not parsed again); ``entry_hash`` a hash of what the
    list said about it (a changed list entry means the article is read again);
    ``revisit_at`` when it may be fetched again although the list entry is the same.
    """

    url: str
    etag: str | None
    last_modified: str | None
    content_hash: str
    entry_hash: str
    fetched_at: datetime
    revisit_at: datetime


# --------------------------------------------------------------------- stored state
# What the store hands back: read-only snapshots that ``decide`` reasons about.


@dataclass(frozen=True)
class SourceRow:
    """What the store remembers of one source between polls."""

    id: str
    city_id: str
    etag: str | None = None
    last_modified: str | None = None
    activated_at: datetime | None = None  # first successful poll
    last_poll_at: datetime | None = None
    last_ok_at: datetime | None = None
    next_poll_at: datetime | None = None
    last_result: str | None = None  # ok | not-modified | error | alert
    consecutive_failures: int = 0
    last_error: str | None = None
    alert: str | None = None  # a human must look (layout changed, challenge, …)
    warnings: str | None = None  # JSON list of the last poll's non-fatal notes
    items_seen: int = 0


@dataclass(frozen=True)
class ItemRow:
    """One item's identity and where its versions stand."""

    id: int
    source_id: str
    key: str
    city_id: str
    url: str | None
    current_version: int
    current_hash: str
    hash_changes: int
    echo: bool
    first_seen_at: datetime
    last_seen_at: datetime
    #: its identity within the city (``syncd.identity.city_key``); None: none known
    city_key: str | None = None


@dataclass(frozen=True)
class AliasRow:
    """Another source's item that is the same article as ``item_id`` (held by the
    source that brought it first): no deliveries of its own; ``content_hash`` is
    that of its own content when last seen (a change may enrich the holder)."""

    source_id: str
    key: str
    item_id: int
    content_hash: str


@dataclass(frozen=True)
class DeliveryRow:
    """One item at one partner target (the lifecycle in DESIGN.md)."""

    item_id: int
    target_city: str
    state: DeliveryState
    written_version: int | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    parked_state: str | None  # state to resume on `syncd retry`
    remote_id: str | None
    remote_url: str | None
    fingerprint: str | None  # target-specific evidence of our last write
    written_hash: str | None  # content hash of what we last wrote
    changed_after_review: bool
    note: str | None  # why skipped / what an editor did
    created_at: datetime
    updated_at: datetime
    #: the item version in the editors' desk (held or approved there); None when the
    #: desk never had it (a city with ``review = "target"``)
    review_version: int | None = None


@dataclass(frozen=True)
class TargetHealth:
    """Whether a city's target is used; ``credential`` is a hash of the credentials
    that were refused (an unhealthy target is tried again once they change).

    What passes saw of it: ``last_ok_at`` (the last time it answered), ``last_error``
    and ``last_error_at`` (the last failed contact, kept after a recovery), and
    ``failing_since`` (set while contacts fail: refused connections, timeouts, 5xx,
    401/403), with ``failures`` failed passes in a row."""

    city_id: str
    healthy: bool = True
    reason: str | None = None
    since: datetime | None = None
    credential: str | None = None
    last_ok_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failing_since: datetime | None = None
    failures: int = 0

    @property
    def reachable(self) -> bool:
        """The last contact succeeded (or there was none yet)."""
        return self.failing_since is None


@dataclass(frozen=True)
class TargetQueue:
    """Deliveries to one target not yet written (pending or creating): how many, the
    oldest one's creation, how many wait in backoff and the next attempt among them."""

    city_id: str
    waiting: int = 0
    oldest: datetime | None = None
    in_backoff: int = 0
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class OperatorAlertRow:
    """One problem the operator was (or was not yet) told about, by its key
    (``syncd.health.Problem.key``). ``active`` while the problem lasts; ``raise_sent``
    whether this occurrence was announced; ``sent_at`` the last message about it
    (raised or recovered)."""

    key: str
    kind: str
    subject: str
    message: str
    active: bool
    since: datetime | None = None
    sent_at: datetime | None = None
    raise_sent: bool = False
