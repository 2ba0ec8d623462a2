"""Pure decisions: what to do with an item, a delivery, a source's next poll.

Does not interact with any dependency, only processes data: no I/O, no clock (``now``
is an argument), no randomness of its own (``rand`` is an argument in [0, 1)).
``sync`` carries out what these functions decide and holds no policy itself.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import MARKER_RE, SLUG_RE, DeliveryState, Item


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
    CREATE = "create"
    RECONCILE = "reconcile"  # a create may have happened: look it up by marker first
    UPDATE = "update"  # the item changed; rewrite the draft if still ours
    NOTE_REVIEWED = "note-reviewed"  # changed after an editor took over: record, don't write


def delivery_action(
    state: DeliveryState,
    written_version: int | None,
    current_version: int,
    next_attempt_at: datetime | None,
    changed_after_review: bool,
    target_healthy: bool,
    now: datetime,
) -> Action:
    """What to do next for one item at one target."""
    if state in (DeliveryState.SKIPPED, DeliveryState.PARKED):
        return Action.NOTHING
    if state.hands_off:
        if (
            written_version is not None
            and current_version > written_version
            and not changed_after_review
        ):
            return Action.NOTE_REVIEWED
        return Action.NOTHING
    if not target_healthy:
        return Action.WAIT
    if next_attempt_at is not None and next_attempt_at > now:
        return Action.WAIT
    if state is DeliveryState.CREATING:
        return Action.RECONCILE
    if state is DeliveryState.PENDING:
        return Action.CREATE
    if state is DeliveryState.PUSHED and (written_version or 0) < current_version:
        return Action.UPDATE
    return Action.NOTHING


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
    return FailureOutcome(False, now + delay)


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
    return now + min(delay, max_delay)
