"""Whether syncd needs a person, and why: pure, from stored rows and the config.

Does no I/O: ``syncd.status`` gathers the rows, this module judges them. The same
judgement serves ``syncd status`` (its verdict and exit code), ``syncd sync``'s exit
code, ``/healthz`` (readiness) and the operator's alerts, so that all four agree.

A ``Problem`` has a stable ``key`` (kind and subject): alerts are raised when a key
appears and resolved when it goes (``operator_alerts``: the policy of what to tell
the operator, when). Kinds:

    source-alert        a source answered, but not with news (layout changed, …)
    source-stale        an enabled source has had no successful poll within
                        ``health.stale_polls`` of its intervals
    target-refused      the target refused syncd's credentials (401/403)
    target-unreachable  the last pass could not use the target (refused connection,
                        timeout, 5xx)
    parked              deliveries given up until `syncd retry`
    models-missing      a route the partnerships need has no installed model
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .intents import AlertUpdate, OperatorAlerts
from .models import OperatorAlertRow, SourceRow, TargetHealth

SOURCE_ALERT = "source-alert"
SOURCE_STALE = "source-stale"
TARGET_REFUSED = "target-refused"
TARGET_UNREACHABLE = "target-unreachable"
PARKED = "parked"
MODELS_MISSING = "models-missing"

#: what /healthz's readiness depends on (besides the store and the scheduler)
READINESS = frozenset({SOURCE_STALE, TARGET_REFUSED, TARGET_UNREACHABLE})
#: what makes `syncd sync` exit "deliveries failed" even when this pass failed nothing
DELIVERIES = frozenset({TARGET_REFUSED, TARGET_UNREACHABLE, PARKED, MODELS_MISSING})


@dataclass(frozen=True)
class Problem:
    """Something a person must look at. ``message`` names the subject and never holds
    a secret (it is mailed to the operator); ``since`` when known."""

    kind: str
    subject: str
    message: str
    since: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "message": self.message,
            "since": self.since.isoformat(timespec="seconds") if self.since else None,
        }


def source_problems(
    source_id: str,
    interval: timedelta,
    row: SourceRow | None,
    now: datetime,
    stale_polls: int,
) -> list[Problem]:
    """An enabled source's problems: its alert, and whether it went stale (no
    successful poll within ``stale_polls`` intervals; a source never polled yet is
    not stale, one that never succeeded is after ``stale_polls`` failures)."""
    if row is None:
        return []
    out: list[Problem] = []
    if row.alert:
        out.append(Problem(SOURCE_ALERT, source_id, f"source {source_id}: {row.alert}"))
    limit = interval * max(1, stale_polls)
    if row.last_ok_at is not None:
        stale = now - row.last_ok_at > limit and row.consecutive_failures > 0
    else:
        stale = row.consecutive_failures >= max(1, stale_polls)
    if stale:
        last = row.last_ok_at.isoformat(timespec="seconds") if row.last_ok_at else "never"
        out.append(
            Problem(
                SOURCE_STALE,
                source_id,
                f"source {source_id}: no successful poll within {stale_polls} intervals "
                f"(last success {last}, {row.consecutive_failures} failures in a row: "
                f"{row.last_error or 'unknown error'})",
                row.last_ok_at,
            )
        )
    return out


def target_problems(health: TargetHealth) -> list[Problem]:
    """A refused target (until its credentials change or `syncd retry --now`), or one
    the last pass could not reach."""
    city = health.city_id
    if not health.healthy:
        return [
            Problem(TARGET_REFUSED, city, f"target {city}: refused: {health.reason}", health.since)
        ]
    if health.failing_since is not None:
        return [
            Problem(
                TARGET_UNREACHABLE,
                city,
                f"target {city}: unreachable: {health.last_error}",
                health.failing_since,
            )
        ]
    return []


def parked_problem(city_id: str, parked: int) -> list[Problem]:
    if not parked:
        return []
    return [
        Problem(
            PARKED,
            city_id,
            f"target {city_id}: {parked} deliveries parked (`syncd retry` re-queues them)",
        )
    ]


def models_problem(route: tuple[str, str], problem: str, waiting: int) -> list[Problem]:
    name = f"{route[0]}->{route[1]}"
    return [Problem(MODELS_MISSING, name, f"models {name}: {problem}; {waiting} items waiting")]


@dataclass(frozen=True)
class Verdict:
    """Everything that needs a person now; ``ok`` when nothing does."""

    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def of(self, kinds: Iterable[str]) -> tuple[Problem, ...]:
        wanted = frozenset(kinds)
        return tuple(p for p in self.problems if p.kind in wanted)


@dataclass(frozen=True)
class Readiness:
    """``/healthz``: live (the process and its scheduler run) and ready (also: the store
    is writable, every enabled source polled within its stale limit, no target
    refused or unreachable). ``reasons`` say why not, one line each."""

    live: bool
    ready: bool
    reasons: tuple[str, ...]


def readiness(
    run_state: str, scheduler_alive: bool, store_problem: str | None, verdict: Verdict
) -> Readiness:
    reasons: list[str] = []
    if not scheduler_alive:
        reasons.append("the scheduler is not running")
    if run_state in ("stopping", "stopped"):
        reasons.append(f"the daemon is {run_state}")
    live = not reasons
    if store_problem:
        reasons.append(store_problem)
    reasons += [p.message for p in verdict.of(READINESS)]
    return Readiness(live, not reasons, tuple(reasons))


@dataclass(frozen=True)
class AlertPolicy:
    #: at most one message per this interval: changes meanwhile go into the next one
    min_interval: timedelta = timedelta(minutes=5)
    #: a problem announced (or recovered) within this time is not announced again
    repeat_after: timedelta = timedelta(hours=6)


def operator_alerts(
    rows: Mapping[str, OperatorAlertRow],
    problems: Sequence[tuple[str, str, str, str]],
    now: datetime,
    policy: AlertPolicy,
) -> OperatorAlerts | None:
    """Compare what needs a person now (``problems``: key, kind, subject, message)
    with what the operator was told (``rows``), and say what to record and announce.

    A new problem is announced once; while it lasts, never again. Its recovery is
    announced once, if its raise was. A problem that comes back within
    ``repeat_after`` of the last message about it is recorded quietly, and announced
    if it is still there after ``repeat_after``. At most one message per
    ``min_interval``: within it, nothing is recorded and the next check sees the
    same changes (a problem that came and went meanwhile is never announced).
    None: nothing to record.
    """
    updates: list[AlertUpdate] = []
    current = {key: (kind, subject, message) for key, kind, subject, message in problems}
    for key, (kind, subject, message) in current.items():
        row = rows.get(key)
        recent = (
            row is not None and row.sent_at is not None and now - row.sent_at < policy.repeat_after
        )
        if row is not None and row.active:
            if not row.raise_sent and not recent:  # a quiet comeback that stayed
                updates.append(AlertUpdate(key, kind, subject, message, True, True))
            continue
        updates.append(AlertUpdate(key, kind, subject, message, True, not recent))
    for key, row in rows.items():
        if row.active and key not in current:
            updates.append(
                AlertUpdate(key, row.kind, row.subject, row.message, False, row.raise_sent)
            )
    if not updates:
        return None
    if any(u.notify for u in updates):
        last = max((r.sent_at for r in rows.values() if r.sent_at is not None), default=None)
        if last is not None and now - last < policy.min_interval:
            return None
    return OperatorAlerts(tuple(updates))
