"""Pure: the next step of a delivery and what each step records (write-ahead, written,
hand-off, failure → retry or park, desk review).

Part of ``syncd.decide`` (see its docstring): no I/O, no clock, no randomness of its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..intents import (
    HandOff,
    HoldForReview,
    MarkCreating,
    NoteReviewed,
    Park,
    RecordFailure,
    RecordWritten,
    WaitForModels,
    WaitForTarget,
)
from ..models import (
    DeliveryRow,
    DeliveryState,
    ItemRow,
    RemoteStatus,
)
from .timing import after_failure


class Action(enum.StrEnum):
    NOTHING = "nothing"
    WAIT = "wait"  # a retry is scheduled later
    CREATE = "create"  # (only after RECONCILE found nothing)
    # a create may have happened (a crash mid-create, a lost or restored store): look
    # the draft up by its marker, adopt it as an editor left it, or create it
    RECONCILE = "reconcile"
    UPDATE = "update"  # the item changed; rewrite the draft if still ours
    NOTE_REVIEWED = "note-reviewed"  # changed after an editor took over: record, don't write
    HOLD = "hold"  # translate the current version and hold it in the editors' desk


def delivery_action(
    state: DeliveryState,
    written_version: int | None,
    current_version: int,
    next_attempt_at: datetime | None,
    changed_after_review: bool,
    target_healthy: bool,
    now: datetime,
    *,
    desk: bool = False,
    review_version: int | None = None,
    has_remote: bool = False,
) -> Action:
    """What to do next for one item at one target.

    ``desk``: the target city reviews in the editors' desk, so a new or changed item
    is held there (``HOLD``) instead of written; ``review_version`` is the version the
    desk holds or approved; ``has_remote``: a draft of an earlier version is at the
    target (an approved new version updates it, if still untouched there).
    """
    if state in (DeliveryState.SKIPPED, DeliveryState.PARKED):
        return Action.NOTHING
    if state.hands_off:
        if written_version is None:  # rejected in the desk: never written anywhere
            if (
                review_version is not None
                and current_version > review_version
                and not changed_after_review
            ):
                return Action.NOTE_REVIEWED
            return Action.NOTHING
        if current_version > written_version and not changed_after_review:
            return Action.NOTE_REVIEWED
        return Action.NOTHING
    if desk and _needs_review(state, written_version, current_version, review_version):
        if next_attempt_at is not None and next_attempt_at > now:
            return Action.WAIT
        return Action.HOLD
    if state is DeliveryState.HELD and (desk or review_version is None):
        return Action.NOTHING  # waits for an editor (or has nothing held yet)
    if not target_healthy:
        return Action.WAIT
    if next_attempt_at is not None and next_attempt_at > now:
        return Action.WAIT
    if state is DeliveryState.APPROVED:
        # an approved first version is created (looked up first, as every create);
        # an approved later version rewrites the draft if still syncd's there
        return Action.UPDATE if has_remote else Action.RECONCILE
    if state in (DeliveryState.CREATING, DeliveryState.PENDING, DeliveryState.HELD):
        # never create without looking first: a store that was lost, reset or
        # restored from an old backup knows nothing of drafts made meanwhile (promise 9)
        # (HELD here: the city no longer reviews in the desk; the draft goes out as now)
        return Action.RECONCILE
    if state is DeliveryState.PUSHED and (written_version or 0) < current_version:
        return Action.UPDATE
    return Action.NOTHING


def _needs_review(
    state: DeliveryState, written: int | None, current: int, review_version: int | None
) -> bool:
    """A desk city's draft that must be (re)translated and held for an editor: new,
    changed at the source while held, or changed after it reached the target."""
    if state is DeliveryState.PENDING:
        return True
    if state is DeliveryState.HELD:
        return review_version is None or review_version < current
    return state is DeliveryState.PUSHED and (written or 0) < current


# ---------------------------------------------------------------------- deliveries


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)


class FailureKind(enum.StrEnum):
    RETRYABLE = "retryable"  # timeouts, 5xx, 429, a broken translation: try again later
    REJECTED = "rejected"  # the target refused this item (400): retrying cannot help


def mark_creating(d: DeliveryRow, item: ItemRow, version: int | None = None) -> MarkCreating:
    """Write-ahead of the create of ``version`` (default: the item's current one; an
    approved draft: the version the editor approved)."""
    return MarkCreating(d.item_id, d.target_city, version or item.current_version)


def hold_for_review(d: DeliveryRow, item: ItemRow) -> HoldForReview:
    """The current version, translated, waits in the desk for an editor."""
    return HoldForReview(d.item_id, d.target_city, item.current_version)


def delivered_version(d: DeliveryRow, item: ItemRow) -> int:
    """Which version a delivery step writes: the approved one for an approved draft
    (the editor's text is of that version), else the item's current one."""
    if d.state is DeliveryState.APPROVED and d.review_version is not None:
        return d.review_version
    return item.current_version


def written(
    d: DeliveryRow,
    item: ItemRow,
    version: int,
    remote_id: str,
    remote_url: str | None,
    fingerprint: str,
) -> RecordWritten:
    """What syncd wrote (or adopted): the content hash only when it is the current
    version's (an adopted older version keeps the hash it had)."""
    return RecordWritten(
        d.item_id,
        d.target_city,
        version,
        remote_id,
        remote_url,
        fingerprint,
        item.current_hash if version == item.current_version else d.written_hash,
    )


_HANDS_OFF = {
    RemoteStatus.EDITED: DeliveryState.EDITED,
    RemoteStatus.PUBLISHED: DeliveryState.PUBLISHED,
    RemoteStatus.DELETED: DeliveryState.REJECTED,
}


def hand_off(d: DeliveryRow, item: ItemRow, status: RemoteStatus, *, changed: bool) -> HandOff:
    """An editor touched, published or deleted the draft: hands off for good.
    ``changed``: the source had changed too (recorded as "source updated after review")."""
    note = f"{status.value} by an editor"
    if changed:
        note += f"; source updated after review (version {item.current_version})"
    return HandOff(d.item_id, d.target_city, _HANDS_OFF[status], changed, note)


def note_reviewed(d: DeliveryRow, item: ItemRow) -> NoteReviewed:
    return NoteReviewed(
        d.item_id,
        d.target_city,
        f"source updated after review (version {item.current_version}, "
        f"editors have v{d.written_version})",
    )


def waiting_for_models(d: DeliveryRow, reason: str) -> WaitForModels:
    return WaitForModels(d.item_id, d.target_city, reason)


def waiting_for_target(d: DeliveryRow, reason: str) -> WaitForTarget:
    return WaitForTarget(d.item_id, d.target_city, reason)


def after_delivery_failure(
    d: DeliveryRow,
    state_now: DeliveryState,
    kind: FailureKind,
    error: str,
    retry_after: timedelta | None,
    policy: RetryPolicy,
    now: datetime,
    rand: float,
) -> RecordFailure | Park:
    """One more failed attempt. A refused item (400) parks at once; otherwise back off
    and park after ``max_attempts``. Parking keeps the state at failure time so that
    ``syncd retry`` resumes there (CREATING stays CREATING: the create may have
    happened and must be reconciled, not repeated)."""
    attempts = d.attempts + 1
    if kind is FailureKind.REJECTED:
        return Park(d.item_id, d.target_city, state_now, attempts, error)
    outcome = after_failure(
        d.attempts, policy.max_attempts, policy.base, policy.cap, now, rand, retry_after
    )
    if outcome.park:
        return Park(d.item_id, d.target_city, state_now, attempts, error)
    return RecordFailure(d.item_id, d.target_city, attempts, error, outcome.next_attempt_at)
