"""Pure decisions: all policy of state transitions lives here.

Does not interact with any dependency, only processes data: no I/O, no clock (``now``
is an argument), no randomness of its own (``rand`` is an argument in [0, 1)). It gets
the stored rows and returns intents (``syncd.intents``) that the store applies whole;
``sync`` carries them out and holds no policy itself. What is decided here:

- a poll: new / changed / unchanged / capped items, which partners get a delivery
  and which are skipped (first activation, echo), the source's next poll time and
  backoff, alerts (``poll_succeeded``, ``poll_failed``);
- a delivery: the next action (``delivery_action``), the write-ahead, what was
  written, hand-off to an editor, failure → retry or park, 400 → park at once
  (``after_delivery_failure``);
- a target's health: a 401/403 makes it unhealthy until its credentials change
  (``target_refused``, ``target_usable``);
- the editors' desk (a city with ``review = "desk"``): a translated draft is held
  there (``Action.HOLD``, ``hold_for_review``) and goes to the target only once an
  editor approved it; a source change after review sends it back to the desk. What
  an editor may do with a draft in which state is in ``syncd.review`` (kept apart
  for size, pure like this module).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .intents import (
    ChangedItem,
    HandOff,
    HoldForReview,
    MarkCreating,
    NewDelivery,
    NewItem,
    NoteReviewed,
    Park,
    PollIntent,
    RecordFailure,
    RecordWritten,
    SourcePolled,
    TargetHealthChange,
    WaitForModels,
)
from .models import (
    MARKER_RE,
    SLUG_RE,
    DeliveryRow,
    DeliveryState,
    FetchResult,
    Item,
    ItemRow,
    RemoteStatus,
    SourceRow,
    TargetHealth,
)


class Change(enum.StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    CAPPED = "capped"  # content changed again, but this item already changed too often


def classify(
    stored_hash: str | None, hash_changes: int, new_hash: str, max_hash_updates: int
) -> Change:
    """New, changed, unchanged, or changed-but-capped (a feed that changes on every
    fetch must not cause endless updates)."""
    if stored_hash is None:
        return Change.NEW
    if stored_hash == new_hash:
        return Change.UNCHANGED
    if hash_changes >= max_hash_updates:
        return Change.CAPPED
    return Change.CHANGED


def echo_evidence(*texts: str | None) -> str | None:
    """syncd's own marker in any of the texts (raw body, link, guid), or None."""
    for t in texts:
        if not t:
            continue
        m = MARKER_RE.search(t) or SLUG_RE.search(t)
        if m:
            return m.group(1)
    return None


def first_activation_skips(
    items: Sequence[Item], now: datetime, max_age: timedelta, max_items: int
) -> dict[str, str]:
    """On a source's first successful poll, which item keys to skip and why.

    Only items newer than ``max_age`` are taken, at most ``max_items`` of them, so
    that turning on a source does not flood the partner with its archive. Dated
    items go first, newest first; undated ones (some portals give no dates) fill the
    remaining places in the source's own order, which lists the newest first.
    """
    skips: dict[str, str] = {}
    cutoff = now - max_age
    fresh = [i for i in items if i.published is not None and i.published >= cutoff]
    fresh.sort(key=lambda i: i.published or now, reverse=True)
    undated = [i for i in items if i.published is None]
    keep = {i.key for i in (fresh + undated)[:max_items]}
    for i in items:
        if i.key in keep:
            continue
        if i.published is not None and i.published < cutoff:
            skips[i.key] = f"first activation: older than {_fmt(max_age)}"
        else:
            skips[i.key] = f"first activation: beyond the newest {max_items}"
    return skips


def _fmt(d: timedelta) -> str:
    if d.days and not d.seconds:
        return f"{d.days} days"
    return str(d)


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


def backoff(attempt: int, base: timedelta, cap: timedelta, rand: float) -> timedelta:
    """Exponential backoff with full jitter in [50 %, 100 %] of the step, capped.

    ``attempt`` counts from 1 (the delay after the first failure is about ``base``).
    """
    step = base * (2 ** min(max(attempt - 1, 0), 30))
    step = min(step, cap)
    delay: timedelta = step * (0.5 + 0.5 * rand)
    return delay


@dataclass(frozen=True)
class FailureOutcome:
    park: bool
    next_attempt_at: datetime | None


def after_failure(
    attempts_so_far: int,
    max_attempts: int,
    base: timedelta,
    cap: timedelta,
    now: datetime,
    rand: float,
    retry_after: timedelta | None = None,
) -> FailureOutcome:
    """One more failed attempt: park after ``max_attempts``, else back off
    (never sooner than a server's Retry-After)."""
    n = attempts_so_far + 1
    if n >= max_attempts:
        return FailureOutcome(True, None)
    delay = backoff(n, base, cap, rand)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return FailureOutcome(False, _safe_add(now, delay))


def next_poll(
    now: datetime,
    interval: timedelta,
    jitter: float,
    rand: float,
    *,
    failures: int = 0,
    retry_after: timedelta | None = None,
    min_delay: timedelta | None = None,
    max_delay: timedelta = timedelta(days=31),
) -> datetime:
    """When to poll a source next.

    The interval, spread by ``±jitter`` so that sources do not fire in lockstep;
    doubled per consecutive failure (up to 2**6, so a dead source is still tried a few
    times a day); never before the server's Retry-After or the feed's own cache hint;
    never beyond ``max_delay``.
    """
    delay = interval * (1 + jitter * (2 * rand - 1))
    if failures:
        delay = delay * (2 ** min(failures, 6))
    for floor in (retry_after, min_delay):
        if floor is not None:
            delay = max(delay, floor)
    return _safe_add(now, min(delay, max_delay))


def _safe_add(now: datetime, delay: timedelta) -> datetime:
    """``now + delay`` that cannot overflow the calendar (a hostile hint is capped)."""
    try:
        return now + delay
    except OverflowError:
        return datetime.max.replace(tzinfo=now.tzinfo)


# --------------------------------------------------------------------------- polls


@dataclass(frozen=True)
class PollPolicy:
    """The settings a poll's decisions depend on (one source's, plus ``[sync]``)."""

    interval: timedelta
    jitter: float = 0.1
    max_poll_delay: timedelta = timedelta(days=31)
    max_hash_updates: int = 24
    first_run_max_age: timedelta = timedelta(days=14)
    first_run_max_items: int = 20


@dataclass(frozen=True)
class SourceFailure:
    """A poll that failed as a whole: the message, the server's Retry-After, and the
    alert reason when a human must look (layout changed, challenge page, …)."""

    message: str
    retry_after: timedelta | None = None
    alert: str | None = None


def echo_reason(marker: str) -> str:
    return f"echo: syncd's own draft (marker {marker})"


def poll_failed(
    row: SourceRow, failure: SourceFailure, policy: PollPolicy, now: datetime, rand: float
) -> PollIntent:
    """Record a failed poll: one more failure, backed-off next poll, alert if any."""
    failures = row.consecutive_failures + 1
    nxt = next_poll(
        now, policy.interval, policy.jitter, rand, failures=failures,
        retry_after=failure.retry_after, max_delay=policy.max_poll_delay,
    )  # fmt: skip
    return PollIntent(
        SourcePolled(
            source_id=row.id,
            city_id=row.city_id,
            at=now,
            result="alert" if failure.alert else "error",
            next_poll_at=nxt,
            failures=failures,
            ok=False,
            error=failure.message,
            alert=failure.alert,
            count_alert=failure.alert is not None,
        )
    )


@dataclass(frozen=True)
class PollDecision:
    """``poll_succeeded``'s answer: the intent, plus counts for the report."""

    intent: PollIntent
    capped: int
    skipped: Mapping[str, str]  # item key → reason

    @property
    def new(self) -> int:
        return len(self.intent.new)

    @property
    def changed(self) -> int:
        return len(self.intent.changed)


def poll_succeeded(
    row: SourceRow,
    result: FetchResult,
    known: Mapping[str, ItemRow],
    partners: Sequence[str],
    policy: PollPolicy,
    now: datetime,
    rand: float,
) -> PollDecision:
    """Classify every item against what is stored and decide what to record.

    New items get a delivery per partner (``pending``, or ``skipped`` for an echo of
    syncd's own draft or, on the source's first successful poll, an item too old or
    beyond the cap). Changed items get a new version (capped per item). A repeated key
    within one answer counts once (the first occurrence wins).
    """
    nxt = next_poll(
        now, policy.interval, policy.jitter, rand,
        min_delay=result.min_delay, max_delay=policy.max_poll_delay,
    )  # fmt: skip
    validators = (result.etag, result.last_modified)
    if result.not_modified:
        source = SourcePolled(
            row.id, row.city_id, now, "not-modified", nxt, 0, ok=True, validators=validators
        )
        return PollDecision(PollIntent(source), 0, {})
    new_items: list[tuple[Item, str]] = []
    changed: list[ChangedItem] = []
    seen: list[int] = []
    capped = 0
    keys: set[str] = set()
    for item in result.items:
        if item.key in keys:
            continue
        keys.add(item.key)
        h = item.content_hash()
        stored = known.get(item.key)
        change = classify(
            stored.current_hash if stored else None,
            stored.hash_changes if stored else 0,
            h,
            policy.max_hash_updates,
        )
        if stored is None:
            new_items.append((item, h))
        elif change is Change.CHANGED:
            changed.append(
                ChangedItem(stored.id, stored.current_version + 1, item, h, stored.hash_changes + 1)
            )
        else:
            capped += change is Change.CAPPED
            seen.append(stored.id)
    skips: dict[str, str] = {}
    if row.activated_at is None:
        skips.update(
            first_activation_skips(
                [i for i, _h in new_items],
                now,
                policy.first_run_max_age,
                policy.first_run_max_items,
            )  # fmt: skip
        )
    for item, _h in new_items:
        if item.echo_marker:
            skips[item.key] = echo_reason(item.echo_marker)
    new = tuple(
        NewItem(item, h, tuple(NewDelivery(p, skips.get(item.key)) for p in partners))
        for item, h in new_items
    )
    alert = "; ".join(dict.fromkeys(result.alerts)) or None
    source = SourcePolled(
        source_id=row.id,
        city_id=row.city_id,
        at=now,
        result="ok",
        next_poll_at=nxt,
        failures=0,
        ok=True,
        alert=alert,
        warnings=tuple(result.warnings) + tuple(result.entry_errors),
        validators=validators,
        activate=row.activated_at is None,
        new_items=len(new),
        count_alert=alert is not None and alert != row.alert,
    )
    return PollDecision(PollIntent(source, new, tuple(changed), tuple(seen)), capped, skips)


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


# ------------------------------------------------------------------- target health


def target_refused(city_id: str, reason: str, credential: str | None) -> TargetHealthChange:
    """A 401/403 (or an unusable target config): unhealthy until the credentials
    change. ``credential`` is a hash of the refused credentials (None: none known)."""
    return TargetHealthChange(city_id, False, reason, credential or "none")


def target_usable(
    health: TargetHealth, credential: str | None
) -> tuple[bool, TargetHealthChange | None]:
    """Whether to use a target now, and the change to record if it turns healthy
    again (its credentials differ from the ones that were refused)."""
    if health.healthy:
        return True, None
    if health.credential is not None and health.credential != credential:
        return True, TargetHealthChange(health.city_id, True)
    return False, None
