"""Pure decisions: classification, first activation, echo, delivery actions, timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syncd import decide
from syncd.decide import Action, Change, FailureKind, PollPolicy, RetryPolicy, SourceFailure
from syncd.intents import Park, RecordFailure
from syncd.models import (
    DeliveryRow,
    DeliveryState,
    Item,
    ItemRow,
    RemoteStatus,
    SourceRow,
    TargetHealth,
)
from syncd.sources import FetchResult

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
    assert act(P.PENDING, None, 1, None, False, True, NOW) is Action.RECONCILE
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


# ------------------------------------------------------- polls and deliveries as intents


POLICY = PollPolicy(interval=timedelta(minutes=15), jitter=0.0, first_run_max_items=2)


def stored(key: str, h: str, changes: int = 0, version: int = 1, id: int = 1) -> ItemRow:
    return ItemRow(id, "s", key, "dueren", None, version, h, changes, False, NOW, NOW)


def test_a_poll_gives_each_new_item_a_delivery_per_partner_and_skips_echoes() -> None:
    row = SourceRow("s", "dueren", activated_at=NOW)
    echo = Item("s", "e", None, "E", echo_marker="0123456789abcdef")
    same = item("same", 1)
    result = FetchResult(items=(item("a", 1), echo, item("a", 2), same), etag="t")
    known = {"same": stored("same", same.content_hash())}
    d = decide.poll_succeeded(row, result, known, ["jinhua", "x"], POLICY, NOW, 0.5)
    assert [n.item.key for n in d.intent.new] == ["a", "e"], "a repeated key counts once"
    a, e = d.intent.new
    assert [(x.target_city, x.state) for x in a.deliveries] == [
        ("jinhua", DeliveryState.PENDING),
        ("x", DeliveryState.PENDING),
    ]
    assert all(x.skip_reason == decide.echo_reason("0123456789abcdef") for x in e.deliveries)
    assert d.intent.seen == (1,) and d.intent.changed == ()
    src = d.intent.source
    assert src.ok and src.validators == ("t", None) and src.new_items == 2 and not src.activate
    assert src.next_poll_at == NOW + timedelta(minutes=15)


def test_changed_and_capped_items_and_first_activation() -> None:
    row = SourceRow("s", "dueren")  # never activated: first activation applies
    ch, cap = item("ch", 1), item("cap", 1)
    known = {"ch": stored("ch", "old", 2, 3, id=7), "cap": stored("cap", "old", 24, 9, id=8)}
    fresh = [item(f"n{i}", i) for i in range(4)]
    result = FetchResult(items=(ch, cap, *fresh))
    d = decide.poll_succeeded(row, result, known, ["jinhua"], POLICY, NOW, 0.5)
    (c,) = d.intent.changed
    assert (c.item_id, c.version, c.hash_changes) == (7, 4, 3)
    assert d.capped == 1 and d.intent.seen == (8,)
    assert set(d.skipped) == {"n2", "n3"} and d.intent.source.activate
    assert d.intent.source.count_alert is False


def test_not_modified_and_failed_polls() -> None:
    row = SourceRow("s", "dueren", consecutive_failures=2, etag="old")
    nm = decide.poll_succeeded(
        row, FetchResult(not_modified=True, etag="old"), {}, ["j"], POLICY, NOW, 0.5
    )
    assert nm.intent.new == () and nm.intent.source.result == "not-modified"
    assert nm.intent.source.failures == 0
    failed = decide.poll_failed(
        row, SourceFailure("boom", alert="layout changed"), POLICY, NOW, 0.5
    ).source
    assert (failed.result, failed.failures, failed.validators) == ("alert", 3, None)
    assert failed.count_alert and failed.next_poll_at == NOW + timedelta(minutes=15) * 8
    slow = decide.poll_failed(
        row, SourceFailure("429", retry_after=timedelta(days=5)), POLICY, NOW, 0.5
    ).source
    assert slow.result == "error" and slow.next_poll_at == NOW + timedelta(days=5)


def test_absurd_delays_never_overflow_the_calendar() -> None:
    far = datetime(9999, 12, 30, tzinfo=UTC)
    assert decide.next_poll(far, timedelta(days=1), 0.1, 0.5).year == 9999
    out = decide.after_failure(0, 8, timedelta(days=1), timedelta(days=10), far, 0.5)
    assert out.next_attempt_at is not None and out.next_attempt_at.year == 9999


def delivery(state: DeliveryState, attempts: int = 0, written: int | None = None) -> DeliveryRow:
    return DeliveryRow(
        1, "jinhua", state, written, attempts, None, None, None, None, None, None, "h0",
        False, None, NOW, NOW,
    )  # fmt: skip


@given(
    st.sampled_from(list(DeliveryState)),
    st.integers(0, 20),
    st.sampled_from(list(FailureKind)),
    st.none() | st.integers(0, 10**6).map(lambda s: timedelta(seconds=s)),
    st.floats(0, 0.999999),
)
def test_a_failure_parks_or_backs_off_never_both(
    state: DeliveryState, attempts: int, kind: FailureKind, retry_after: timedelta | None,
    rand: float,
) -> None:  # fmt: skip
    policy = RetryPolicy(max_attempts=8)
    d = delivery(state, attempts)
    out = decide.after_delivery_failure(d, state, kind, "err", retry_after, policy, NOW, rand)
    assert out.attempts == attempts + 1 and out.error == "err"
    if kind is FailureKind.REJECTED or attempts + 1 >= policy.max_attempts:
        assert isinstance(out, Park) and out.resume_state is state
    else:
        assert isinstance(out, RecordFailure) and out.next_attempt_at is not None
        assert out.next_attempt_at > NOW
        if retry_after is not None:
            assert out.next_attempt_at >= NOW + retry_after


@given(
    st.sampled_from(list(DeliveryState)),
    st.none() | st.integers(1, 5),
    st.integers(1, 6),
    st.booleans(),
    st.booleans(),
)
def test_hands_off_states_are_never_written_again(
    state: DeliveryState, written: int | None, current: int, reviewed: bool, healthy: bool
) -> None:
    action = decide.delivery_action(state, written, current, None, reviewed, healthy, NOW)
    writes = {Action.CREATE, Action.UPDATE, Action.RECONCILE}
    if state.hands_off or state in (DeliveryState.SKIPPED, DeliveryState.PARKED):
        assert action not in writes
    if not healthy:
        assert action not in writes
    if action is Action.UPDATE:
        assert state is DeliveryState.PUSHED and (written or 0) < current


@given(st.sampled_from([RemoteStatus.EDITED, RemoteStatus.PUBLISHED, RemoteStatus.DELETED]))
def test_hand_off_maps_what_the_editor_did(status: RemoteStatus) -> None:
    it = stored("k", "h", version=3)
    h = decide.hand_off(delivery(DeliveryState.PUSHED, written=2), it, status, changed=True)
    assert h.state.hands_off and h.changed_after_review and "version 3" in h.note
    assert (status is RemoteStatus.DELETED) == (h.state is DeliveryState.REJECTED)


def test_written_keeps_the_hash_of_what_was_written() -> None:
    it = stored("k", "h2", version=2)
    d = delivery(DeliveryState.CREATING, written=1)
    assert decide.written(d, it, 2, "r", None, "fp").written_hash == "h2"
    assert decide.written(d, it, 1, "r", None, "fp").written_hash == "h0"  # adopted older


def test_a_refused_target_waits_for_new_credentials() -> None:
    refused = decide.target_refused("jinhua", "401", "cred-a")
    assert not refused.healthy and refused.credential == "cred-a"
    health = TargetHealth("jinhua", False, "401", NOW, "cred-a")
    assert decide.target_usable(health, "cred-a") == (False, None)
    usable, change = decide.target_usable(health, "cred-b")
    assert usable and change is not None and change.healthy
    assert decide.target_usable(TargetHealth("jinhua"), None) == (True, None)
    assert decide.target_refused("x", "no secret", None).credential == "none"
