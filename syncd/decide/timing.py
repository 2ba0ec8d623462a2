"""Pure: backoff and next-poll arithmetic that never overflows the calendar.

Part of ``syncd.decide`` (see its docstring): no I/O, no clock, no randomness of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


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
    return FailureOutcome(False, safe_add(now, delay))


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
    return safe_add(now, min(delay, max_delay))


def safe_add(now: datetime, delay: timedelta) -> datetime:
    """``now + delay`` that cannot overflow the calendar (a hostile hint is capped)."""
    try:
        return now + delay
    except OverflowError:
        return datetime.max.replace(tzinfo=now.tzinfo)
