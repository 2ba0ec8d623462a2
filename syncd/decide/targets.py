"""Pure: a target's health (a 401/403 stops it until its credentials change) and what a
pass's contact with it tells.

Part of ``syncd.decide`` (see its docstring): no I/O, no clock, no randomness of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from ..intents import (
    TargetContact,
    TargetHealthChange,
)
from ..models import (
    TargetHealth,
)
from .deliveries import FailureKind

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


def target_retried(health: TargetHealth) -> TargetHealthChange | None:
    """``syncd retry --now``: a refused target is tried again (a person fixed the
    user's role or the plugin; the credentials themselves may be unchanged)."""
    return None if health.healthy else TargetHealthChange(health.city_id, True)


class ContactOutcome(enum.StrEnum):
    """What one step tells about a target (not about the item)."""

    ANSWERED = "answered"  # a 2xx, or a refusal of this one item (400): it is up
    FAILED = "failed"  # refused connection, timeout, 5xx, 401/403: it is not usable
    NONE = "none"  # the step never reached the target (a translation failed)


def contact_after(kind: FailureKind) -> ContactOutcome:
    """A refusal of one item (400) is an answer: the target is up. Anything else that
    failed (refused connection, timeout, 5xx, 429) says it is not usable now."""
    return ContactOutcome.ANSWERED if kind is FailureKind.REJECTED else ContactOutcome.FAILED


def target_contact(
    city_id: str, outcomes: Sequence[tuple[ContactOutcome, str]]
) -> TargetContact | None:
    """What a pass records of its contact with one target: the last outcome that
    reached (or tried to reach) it; None when the pass never contacted it."""
    for outcome, error in reversed(outcomes):
        if outcome is ContactOutcome.ANSWERED:
            return TargetContact(city_id)
        if outcome is ContactOutcome.FAILED:
            return TargetContact(city_id, error)
    return None
