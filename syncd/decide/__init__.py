"""Pure decisions: all policy of state transitions lives here.

Does not interact with any dependency, only processes data: no I/O, no clock (``now``
is an argument), no randomness of its own (``rand`` is an argument in [0, 1)). It gets
the stored rows and returns intents (``syncd.intents``) that the store applies whole;
``sync`` carries them out and holds no policy itself. What is decided here:

- a poll: new / changed / unchanged / capped items, which partners get a delivery
  and which are skipped (first activation, echo), which items are another source's
  article and enrich it (one item per article and city), the source's next poll
  time and backoff (none while syncd is offline), alerts (``poll_succeeded``,
  ``poll_failed``);
- a delivery: the next action (``delivery_action``), the write-ahead, what was
  written, hand-off to an editor, failure → retry or park, 400 → park at once
  (``after_delivery_failure``);
- a target's health: a 401/403 makes it unhealthy until its credentials change
  (``target_refused``, ``target_usable``, ``target_retried``); what a pass's
  contact with it tells (``target_contact``);
- leases (several replicas on one PostgreSQL): how long a claim holds and who may
  take a lease another process left (``lease_claim``).

- the editors' desk (a city with ``review = "desk"``): a translated draft is held
  there (``Action.HOLD``, ``hold_for_review``) and goes to the target only once an
  editor approved it; a source change after review sends it back to the desk. What
  an editor may do with a draft in which state is in ``syncd.review``.

What to tell the operator is decided in ``syncd.health`` (``operator_alerts``).
"""

from __future__ import annotations

from .deliveries import (
    Action,
    FailureKind,
    RetryPolicy,
    after_delivery_failure,
    delivered_version,
    delivery_action,
    hand_off,
    hold_for_review,
    mark_creating,
    note_reviewed,
    waiting_for_models,
    waiting_for_target,
    written,
)
from .leases import LeasePolicy, lease_claim
from .polls import (
    Change,
    CityItems,
    PollDecision,
    PollPolicy,
    SourceFailure,
    city_keys,
    classify,
    echo_evidence,
    echo_reason,
    first_activation_skips,
    poll_failed,
    poll_succeeded,
)
from .targets import (
    ContactOutcome,
    contact_after,
    target_contact,
    target_refused,
    target_retried,
    target_usable,
)
from .timing import FailureOutcome, after_failure, backoff, next_poll

__all__ = [
    "Action", "Change", "CityItems", "ContactOutcome", "FailureKind", "FailureOutcome",
    "LeasePolicy", "PollDecision", "PollPolicy", "RetryPolicy", "SourceFailure",
    "after_delivery_failure", "after_failure", "backoff", "city_keys", "classify",
    "contact_after", "delivered_version", "delivery_action", "echo_evidence", "echo_reason",
    "first_activation_skips", "hand_off", "hold_for_review", "lease_claim", "mark_creating",
    "next_poll", "note_reviewed", "poll_failed", "poll_succeeded", "target_contact",
    "target_refused", "target_retried", "target_usable", "waiting_for_models",
    "waiting_for_target", "written",
]  # fmt: skip
