"""The desk's transition policy, pure: ``decide.delivery_action`` for desk cities and
``review.review_decision``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from syncd.decide import Action, delivery_action
from syncd.intents import ReviewApproved, ReviewRejected, ReviewReopened
from syncd.models import DeliveryRow, DeliveryState, ItemRow
from syncd.review import Decision, ReviewRefused, editable, review_decision

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
S = DeliveryState


def act(state: S, current: int = 1, *, written: int | None = None, review: int | None = None,
        remote: bool = False, healthy: bool = True, due: datetime | None = None,
        changed: bool = False, desk: bool = True) -> Action:  # fmt: skip
    return delivery_action(
        state, written, current, due, changed, healthy, NOW,
        desk=desk, review_version=review, has_remote=remote,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        (dict(state=S.PENDING), Action.HOLD),
        (dict(state=S.PENDING, healthy=False), Action.HOLD),  # the desk needs no target
        (dict(state=S.PENDING, due=NOW + timedelta(minutes=1)), Action.WAIT),
        (dict(state=S.HELD, review=1), Action.NOTHING),
        (dict(state=S.HELD, review=1, current=2), Action.HOLD),
        (dict(state=S.HELD, review=None), Action.HOLD),
        (dict(state=S.APPROVED, review=1), Action.RECONCILE),
        (dict(state=S.APPROVED, review=2, current=2, written=1, remote=True), Action.UPDATE),
        (dict(state=S.APPROVED, review=1, healthy=False), Action.WAIT),
        (dict(state=S.CREATING, review=1), Action.RECONCILE),
        (dict(state=S.PUSHED, written=1, current=2, remote=True), Action.HOLD),
        (dict(state=S.PUSHED, written=2, current=2, remote=True), Action.NOTHING),
        (dict(state=S.REJECTED, review=1, current=2), Action.NOTE_REVIEWED),
        (dict(state=S.REJECTED, review=1, current=2, changed=True), Action.NOTHING),
        (dict(state=S.REJECTED, review=1), Action.NOTHING),
        # the city stopped reviewing in the desk: held drafts go out as they are
        (dict(state=S.HELD, review=1, desk=False), Action.RECONCILE),
        (dict(state=S.PENDING, desk=False), Action.RECONCILE),
    ],
)
def test_delivery_actions_of_a_desk_city(kw: dict[str, object], expected: Action) -> None:
    assert act(**kw) is expected  # type: ignore[arg-type]


ROW = DeliveryRow(
    item_id=7, target_city="jinhua", state=S.HELD, written_version=None, attempts=0,
    next_attempt_at=None, last_error=None, parked_state=None, remote_id=None, remote_url=None,
    fingerprint=None, written_hash=None, changed_after_review=False, note=None,
    created_at=NOW, updated_at=NOW, review_version=2,
)  # fmt: skip
ITEM = ItemRow(7, "src", "k", "dueren", None, 2, "h", 1, False, NOW, NOW)


def test_editors_decisions_follow_the_state_and_the_version_they_saw() -> None:
    assert review_decision(ROW, ITEM, Decision.APPROVE, 2, "li", "zh") == ReviewApproved(
        7, "jinhua", 2, "li"
    )
    assert review_decision(ROW, ITEM, Decision.APPROVE, 1, "li", "zh") == ReviewRefused(
        "changed-meanwhile"
    )
    assert review_decision(ROW, ITEM, Decision.REJECT, 2, "li", "zh", " 重复 ") == ReviewRejected(
        7, "jinhua", 2, "li", "重复"
    )
    assert review_decision(ROW, ITEM, Decision.REJECT, 2, "li", "zh", "  ").reason == (  # type: ignore[union-attr]
        "reason-required"
    )
    approved = replace(ROW, state=S.APPROVED)
    assert review_decision(approved, ITEM, Decision.APPROVE, 2, "li", "zh") == ReviewRefused(
        "not-in-desk"
    )
    assert isinstance(
        review_decision(approved, ITEM, Decision.REJECT, 2, "li", "zh", "x"), ReviewRejected
    )
    pushed = replace(ROW, state=S.PUSHED, written_version=2)
    for decision in Decision:
        assert review_decision(pushed, ITEM, decision, 2, "li", "zh", "x") == ReviewRefused(
            "not-in-desk"
        )
    rejected = replace(ROW, state=S.REJECTED)
    assert review_decision(rejected, ITEM, Decision.RETRANSLATE, 1, "li", "zh") == ReviewReopened(
        7, "jinhua", 2, "zh", "li"
    )
    assert editable(ROW, 2) is None
    assert editable(ROW, 1) == ReviewRefused("changed-meanwhile")
    assert editable(approved, 2) == ReviewRefused("not-in-desk")
