"""Intents: what ``decide`` wants recorded, as values the store applies whole.

Contains no business logic and no I/O: frozen dataclasses only. ``decide`` returns
them, ``sync`` hands them on, and each ``Store.apply_*`` method applies one intent in
one transaction (after lemon24/reader's ``FeedUpdateIntent`` / ``EntryUpdateIntent``).
No column names cross from the pipeline to the store: the type says what is recorded.

    PollIntent                       one poll of one source
    ├── SourcePolled                 the source row: result, next poll, validators
    ├── NewItem → NewDelivery …      first sighting, with a delivery per partner
    ├── NewAlias                     the same article another source of the city holds
    ├── ChangedItem                  a new version of a known item (or one enriched)
    └── seen                         known items only sighted again
    DeliveryIntent                   one step of one delivery
      MarkCreating | RecordWritten | HandOff | NoteReviewed
      | RecordFailure | Park | WaitForModels | WaitForTarget
      | HoldForReview                a translated draft waits in the editors' desk
    ReviewIntent                     an editor's decision in the desk (with the audit)
      ReviewApproved | ReviewRejected | ReviewReopened
    TargetHealthChange               a target turns unhealthy or healthy again
    LeaseClaim                       take (or renew) row leases: sources, deliveries
    TargetContact                    a pass reached a target, or failed to
    OperatorAlerts                   problems raised or recovered, told or kept quiet
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import DeliveryState, Item


@dataclass(frozen=True)
class SourcePolled:
    """The outcome of one poll for the source's own row.

    ``validators`` is ``None`` to keep the stored ETag/Last-Modified (a failed poll),
    else the new pair. ``ok`` stamps ``last_ok_at``; ``activate`` sets
    ``activated_at`` when it is still empty; ``count_alert`` bumps the source's alert
    counter (a new alert, not the same one again).
    """

    source_id: str
    city_id: str
    at: datetime
    result: str  # ok | not-modified | error | alert
    next_poll_at: datetime
    failures: int
    ok: bool
    error: str | None = None
    alert: str | None = None
    warnings: tuple[str, ...] = ()
    validators: tuple[str | None, str | None] | None = None
    activate: bool = False
    new_items: int = 0
    count_alert: bool = False


@dataclass(frozen=True)
class NewDelivery:
    """A delivery row for one partner: ``pending``, or ``skipped`` with its reason."""

    target_city: str
    skip_reason: str | None = None

    @property
    def state(self) -> DeliveryState:
        return DeliveryState.SKIPPED if self.skip_reason else DeliveryState.PENDING


@dataclass(frozen=True)
class NewItem:
    """A first sighting. With a ``city_key``, the store keeps one item per city and
    key: should another source's item have taken the key meanwhile (two polls at
    once), this one is recorded as its alias instead, without deliveries (the first
    to bring it wins; promise 1)."""

    item: Item
    content_hash: str
    deliveries: tuple[NewDelivery, ...]
    city_key: str | None = None


@dataclass(frozen=True)
class NewAlias:
    """The source's item is the city's item ``item_id`` (another source brought it
    first): recorded, or its ``content_hash`` updated; never delivered itself."""

    source_id: str
    key: str
    item_id: int
    content_hash: str


@dataclass(frozen=True)
class ChangedItem:
    item_id: int
    version: int  # the new version number
    item: Item
    content_hash: str
    hash_changes: int  # the item's count of hash changes after this one


@dataclass(frozen=True)
class PollIntent:
    """Everything one poll records, in one transaction (promise 2: every item seen is
    recorded before any other work)."""

    source: SourcePolled
    new: tuple[NewItem, ...] = ()
    changed: tuple[ChangedItem, ...] = ()
    seen: tuple[int, ...] = ()  # ids of known items only sighted again
    aliases: tuple[NewAlias, ...] = ()  # the source's items that another source holds


# ---------------------------------------------------------------------- deliveries


@dataclass(frozen=True)
class MarkCreating:
    """Write-ahead before a remote create: after a crash, reconcile by marker."""

    item_id: int
    target_city: str
    version: int


@dataclass(frozen=True)
class RecordWritten:
    """The remote copy is exactly what syncd wrote (created, updated or adopted)."""

    item_id: int
    target_city: str
    version: int
    remote_id: str
    remote_url: str | None
    fingerprint: str
    written_hash: str | None


@dataclass(frozen=True)
class HandOff:
    """An editor owns the draft now: syncd never writes it again (promise 3)."""

    item_id: int
    target_city: str
    state: DeliveryState  # edited | published | rejected
    changed_after_review: bool
    note: str


@dataclass(frozen=True)
class NoteReviewed:
    """The source changed after an editor took the draft over: recorded, not written."""

    item_id: int
    target_city: str
    note: str


@dataclass(frozen=True)
class RecordFailure:
    """A failed attempt, tried again at ``next_attempt_at``."""

    item_id: int
    target_city: str
    attempts: int
    error: str
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class Park:
    """Given up until ``syncd retry``; ``resume_state`` is where retry picks up."""

    item_id: int
    target_city: str
    resume_state: DeliveryState
    attempts: int
    error: str


@dataclass(frozen=True)
class WaitForModels:
    """No model for the route yet: the delivery waits without counting an attempt."""

    item_id: int
    target_city: str
    reason: str


@dataclass(frozen=True)
class WaitForTarget:
    """The target refused syncd's credentials (401/403): the delivery waits, with that
    error, until the target is usable again; no attempt is counted."""

    item_id: int
    target_city: str
    reason: str


@dataclass(frozen=True)
class HoldForReview:
    """The city reviews in the desk: the translated ``version`` waits there for an
    editor instead of going to the target."""

    item_id: int
    target_city: str
    version: int


# -------------------------------------------------------------- the editors' desk


@dataclass(frozen=True)
class ReviewApproved:
    """An editor approved ``version`` (with their edits, stored by the desk): the next
    delivery step hands it to the target, exactly once."""

    item_id: int
    target_city: str
    version: int
    editor: str


@dataclass(frozen=True)
class ReviewRejected:
    """An editor rejected ``version``: it never reaches the target."""

    item_id: int
    target_city: str
    version: int
    editor: str
    reason: str


@dataclass(frozen=True)
class ReviewReopened:
    """An editor asked for a new translation (new models were installed, say): the
    stored translation of ``version`` is dropped and the draft goes back to the desk
    once translated again."""

    item_id: int
    target_city: str
    version: int
    language: str
    editor: str


ReviewIntent = ReviewApproved | ReviewRejected | ReviewReopened

DeliveryIntent = (
    MarkCreating
    | RecordWritten
    | HandOff
    | NoteReviewed
    | RecordFailure
    | Park
    | WaitForModels
    | WaitForTarget
    | HoldForReview
    | ReviewApproved
    | ReviewRejected
    | ReviewReopened
)


@dataclass(frozen=True)
class TargetHealthChange:
    """A target turns unhealthy (``credential``: hash of the refused credentials) or
    healthy again."""

    city_id: str
    healthy: bool
    reason: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class LeaseClaim:
    """Take or renew leases on rows (sources, deliveries) for ``holder`` until ``until``.

    A row may be taken when it has no holder, when ``holder`` holds it already (a
    renewal), or when its lease ended before ``free_before`` (``decide.lease_claim``
    says when that is). ``now`` is the claim's time (what is due).
    """

    holder: str
    now: datetime
    until: datetime
    free_before: datetime


@dataclass(frozen=True)
class TargetContact:
    """How a pass's last contact with a city's target went: ``error`` is None when the
    target answered (a 2xx, or a refusal of one item), else what failed (refused
    connection, timeout, 5xx, 401/403). The store keeps the last success, the last
    error and since when the target has been failing."""

    city_id: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class AlertUpdate:
    """One problem's new state: ``active`` (raised) or not (recovered); ``notify``
    whether the operator is told in this check's message."""

    key: str
    kind: str
    subject: str
    message: str
    active: bool
    notify: bool


@dataclass(frozen=True)
class OperatorAlerts:
    """What one alert check records (after its message, if any, was sent)."""

    updates: tuple[AlertUpdate, ...]

    @property
    def raised(self) -> tuple[AlertUpdate, ...]:
        return tuple(u for u in self.updates if u.notify and u.active)

    @property
    def recovered(self) -> tuple[AlertUpdate, ...]:
        return tuple(u for u in self.updates if u.notify and not u.active)
