"""Pure: how long a lease holds and who may take one another process left.

Part of ``syncd.decide`` (see its docstring): no I/O, no clock, no randomness of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..intents import (
    LeaseClaim,
)
from .timing import safe_add

# --------------------------------------------------------------------------- leases

#: on a state with one owner, every lease of another holder is void
_NEVER_EXPIRED = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LeasePolicy:
    """``ttl``: how long a claim holds unless renewed (the daemon renews its leases
    every ``ttl / 3`` while it lives). ``skew``: how much the clocks of two replicas
    may differ. ``shared``: several processes work on the state (PostgreSQL); False
    when one process owns it (SQLite's owner lock)."""

    ttl: timedelta = timedelta(minutes=2)
    skew: timedelta = timedelta(seconds=5)
    shared: bool = True


def lease_claim(holder: str, now: datetime, policy: LeasePolicy) -> LeaseClaim:
    """Claim leases for ``holder`` now.

    Who may take a lease: its holder at any time (a renewal); anyone else once it
    ended more than ``skew`` ago, so a replica that died (SIGKILL, a lost machine)
    loses its work to the others after ``ttl`` at most, while a living one whose clock
    runs a little behind is not robbed. On a state with one owner (SQLite) anyone may
    take any lease: a lease there can only be left by an earlier, dead process.
    """
    free_before = now - policy.skew if policy.shared else _NEVER_EXPIRED
    return LeaseClaim(holder, now, safe_add(now, policy.ttl), free_before)
