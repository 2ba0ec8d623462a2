"""Pure decisions: classification, first activation, echo, delivery actions, timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syncd import decide
from syncd.decide import Action, Change
from syncd.models import DeliveryState, Item

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def item(key: str, age_days: float | None) -> Item:
    pub = None if age_days is None else NOW - timedelta(days=age_days)
    return Item(source_id="s", key=key, url=None, title=key, published=pub)


def test_classify() -> None:
    assert decide.classify(None, 0, "h", 24) is Change.NEW
    assert decide.classify("h", 0, "h", 24) is Change.UNCHANGED
    assert decide.classify("h", 3, "g", 24) is Change.CHANGED
    assert decide.classify("h", 24, "g", 24) is Change.CAPPED


def test_first_activation_takes_only_recent_items_up_to_the_limit() -> None:
    items = [item("old", 30), item("undated", None)] + [item(f"n{i}", i * 0.5) for i in range(5)]
    skips = decide.first_activation_skips(items, NOW, timedelta(days=14), 3)
    assert set(skips) == {"old", "undated", "n3", "n4"}
    assert "older than 14 days" in skips["old"]
    assert "newest 3" in skips["n3"]
    # undated items fill places the dated fresh ones leave free
    skips = decide.first_activation_skips(items, NOW, timedelta(days=14), 6)
    assert set(skips) == {"old"}


def test_echo_evidence_finds_marker_in_text_or_slug() -> None:
    assert decide.echo_evidence("<p>… (syncd:0123456789abcdef)</p>") == "0123456789abcdef"
    assert (
        decide.echo_evidence(None, "https://x.cn/?p=1", "https://x.cn/syncd-fedcba9876543210/")
        == "fedcba9876543210"
    )
    assert decide.echo_evidence("ordinary text about syncd: nothing", None) is None


def test_delivery_actions() -> None:
    act = decide.delivery_action
    P = DeliveryState
    assert act(P.PENDING, None, 1, None, False, True, NOW) is Action.CREATE
    assert act(P.CREATING, 1, 1, None, False, True, NOW) is Action.RECONCILE
    assert act(P.PUSHED, 1, 1, None, False, True, NOW) is Action.NOTHING
    assert act(P.PUSHED, 1, 2, None, False, True, NOW) is Action.UPDATE
    assert act(P.PUSHED, 1, 2, NOW + timedelta(minutes=1), False, True, NOW) is Action.WAIT
    assert act(P.PENDING, None, 1, None, False, False, NOW) is Action.WAIT  # unhealthy target
    for hands_off in (P.EDITED, P.PUBLISHED, P.REJECTED):
        assert act(hands_off, 1, 2, None, False, True, NOW) is Action.NOTE_REVIEWED
        assert act(hands_off, 1, 2, None, True, True, NOW) is Action.NOTHING
        assert act(hands_off, 1, 1, None, False, True, NOW) is Action.NOTHING
    assert act(P.SKIPPED, None, 3, None, False, True, NOW) is Action.NOTHING
    assert act(P.PARKED, None, 3, None, False, True, NOW) is Action.NOTHING


@given(st.integers(1, 100), st.floats(0, 0.999999))
def test_backoff_is_bounded_and_grows(attempt: int, rand: float) -> None:
    base, cap = timedelta(minutes=1), timedelta(hours=6)
    d = decide.backoff(attempt, base, cap, rand)
    assert base / 2 <= d <= cap
    assert (
        decide.backoff(attempt + 1, base, cap, 0.99) >= decide.backoff(attempt, base, cap, 0.99)
        or d >= cap / 2
    )


def test_after_failure_parks_after_max_attempts_and_respects_retry_after() -> None:
    out = decide.after_failure(
        0, 3, timedelta(minutes=1), timedelta(hours=1), NOW, 0.0, timedelta(minutes=30)
    )
    assert not out.park and out.next_attempt_at == NOW + timedelta(minutes=30)
    assert decide.after_failure(2, 3, timedelta(minutes=1), timedelta(hours=1), NOW, 0.0).park


@given(st.floats(0, 0.999999), st.integers(0, 50))
def test_next_poll_respects_jitter_backoff_floor_and_cap(rand: float, failures: int) -> None:
    interval = timedelta(minutes=15)
    nxt = decide.next_poll(NOW, interval, 0.1, rand, failures=failures, max_delay=timedelta(days=1))
    if failures == 0:
        assert NOW + interval * 0.9 <= nxt <= NOW + interval * 1.1
    assert nxt <= NOW + timedelta(days=1)
    floor = decide.next_poll(NOW, interval, 0.1, rand, retry_after=timedelta(hours=2))
    assert floor >= NOW + timedelta(hours=2)
