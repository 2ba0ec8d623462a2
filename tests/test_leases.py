"""Row leases: several replicas share one state, each source polled and each delivery
carried by one replica at a time; a lease left by a dead replica ends and is taken.

The policy (``decide.lease_claim``) is pure; the store's claims run on SQLite and on a
real PostgreSQL, where ``FOR UPDATE SKIP LOCKED`` is checked against a second
connection holding a row lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncd import decide
from syncd.errors import LeaseLost
from syncd.intents import LeaseClaim, NewDelivery, NewItem, PollIntent, SourcePolled
from syncd.models import DeliveryState, Item
from syncd.store import SCHEMA_VERSION, Store
from tests.support.feeds import Entry
from tests.support.pipeline import DUEREN_FEED, Pipeline, two_cities

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SHARED = decide.LeasePolicy(ttl=timedelta(minutes=2), skew=timedelta(seconds=5))


def claim(holder: str, at: datetime = NOW, policy: decide.LeasePolicy = SHARED) -> LeaseClaim:
    return decide.lease_claim(holder, at, policy)


@pytest.fixture
def db(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.close()


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Store]:
    from tests.support.postgres import scratch_schema

    with scratch_schema(postgres_url) as url:
        s = Store(url)
        yield s
        s.close()


def polled(source_id: str, next_poll_at: datetime) -> PollIntent:
    return PollIntent(
        SourcePolled(source_id, "dueren", NOW, "ok", next_poll_at, 0, True),
        new=tuple(
            NewItem(i, i.content_hash(), (NewDelivery("jinhua"),))
            for i in (Item(source_id, f"{source_id}-1", None, "T"),)
        ),
    )


# ------------------------------------------------------------------------- policy


def test_a_lease_may_be_taken_by_its_holder_or_once_it_ended_beyond_the_skew() -> None:
    c = claim("a")
    assert (c.holder, c.until, c.free_before) == ("a", NOW + SHARED.ttl, NOW - SHARED.skew)


def test_on_a_state_with_one_owner_every_lease_of_another_is_void() -> None:
    c = claim("a", policy=decide.LeasePolicy(shared=False))
    assert c.free_before > NOW + timedelta(days=365 * 1000)


# -------------------------------------------------------------------------- store


def test_a_source_is_claimed_by_one_holder_until_its_lease_ends(db: Store) -> None:
    db.ensure_sources([("s1", "dueren"), ("s2", "dueren")])
    assert db.claim_sources(claim("a"), ["s1", "s2"], 1) == ["s1"]
    assert db.claim_sources(claim("b"), ["s1", "s2"], 5) == ["s2"]
    assert db.claim_sources(claim("c"), ["s1", "s2"], 5) == []
    assert db.leases() == {"a": 1, "b": 1}
    # a lives and renews; b dies: its lease ends, and after the skew c takes it
    later = NOW + SHARED.ttl + SHARED.skew + timedelta(seconds=1)
    assert db.renew_leases(claim("a", NOW + timedelta(minutes=1))) == 1
    assert db.claim_sources(claim("c", later), ["s1", "s2"], 5) == ["s2"]
    assert not db.take_source(claim("c", later), "s1", "dueren"), "a renewed it"
    db.release_source("a", "s1")
    assert db.take_source(claim("c", later), "s1", "dueren")
    db.release_all("c")
    assert db.leases() == {}


def test_only_due_sources_are_claimed_the_longest_waiting_first(db: Store) -> None:
    db.apply_poll(polled("later", NOW + timedelta(minutes=15)))
    db.apply_poll(polled("due", NOW - timedelta(minutes=1)))
    db.apply_poll(polled("overdue", NOW - timedelta(hours=1)))
    db.ensure_sources([("new", "dueren")])
    ids = ["later", "due", "overdue", "new"]
    assert db.claim_sources(claim("a"), ids, 10) == ["new", "overdue", "due"]


def test_deliveries_are_shared_out_in_batches_and_released(db: Store) -> None:
    for n in range(3):
        db.apply_poll(polled(f"s{n}", NOW))
    a = db.claim_deliveries(claim("a"), limit=2)
    b = db.claim_deliveries(claim("b"), limit=5)
    assert [i.key for _d, i in a] == ["s0-1", "s1-1"] and [i.key for _d, i in b] == ["s2-1"]
    assert db.claim_deliveries(claim("c")) == []
    after = (a[0][0].item_id, a[0][0].target_city)
    assert [i.key for _d, i in db.claim_deliveries(claim("a"), after=after)] == ["s1-1"]
    assert [i.key for _d, i in db.claim_deliveries(claim("b"), source_ids=["s2"])] == ["s2-1"]
    db.release_deliveries("a", [(d.item_id, d.target_city) for d, _i in a])
    assert [i.key for _d, i in db.claim_deliveries(claim("c"))] == ["s0-1", "s1-1"]


def test_the_write_ahead_is_fenced_by_the_lease(db: Store) -> None:
    db.apply_poll(polled("s", NOW))
    ((d, it),) = db.claim_deliveries(claim("a"))
    with pytest.raises(LeaseLost, match="another replica"):
        db.apply_delivery(decide.mark_creating(d, it), NOW, holder="b")
    row = db.delivery(it.id, "jinhua")
    assert row is not None and row.state is DeliveryState.PENDING, "nothing was written"
    db.apply_delivery(decide.mark_creating(d, it), NOW, holder="a")
    row = db.delivery(it.id, "jinhua")
    assert row is not None and row.state is DeliveryState.CREATING


def test_a_version_2_store_gains_the_lease_columns(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    Store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as con:  # as syncd before leases left it
        for table in ("sources", "deliveries"):
            con.execute(f"ALTER TABLE {table} DROP COLUMN lease_holder")
            con.execute(f"ALTER TABLE {table} DROP COLUMN lease_until")
        con.execute("UPDATE schema_version SET version = 2")
    s = Store(f"sqlite:///{path}")
    try:
        assert s.schema_version() == SCHEMA_VERSION
        s.ensure_sources([("s1", "dueren")])
        assert s.claim_sources(claim("a"), ["s1"], 1) == ["s1"]
    finally:
        s.close()


# ------------------------------------------------------------- PostgreSQL only


@pytest.mark.postgres
def test_a_row_being_claimed_elsewhere_is_skipped_not_waited_for(pg: Store) -> None:
    pg.ensure_sources([("s1", "dueren"), ("s2", "dueren")])
    locked, release = threading.Event(), threading.Event()

    def other_replica() -> None:  # holds s1's row lock mid-claim
        with pg.engine.begin() as conn:
            conn.execute(sa.text("SELECT id FROM sources WHERE id = 's1' FOR UPDATE"))
            locked.set()
            release.wait(10)

    t = threading.Thread(target=other_replica)
    t.start()
    try:
        assert locked.wait(10)
        assert pg.claim_sources(claim("a"), ["s1", "s2"], 5) == ["s2"]
    finally:
        release.set()
        t.join()
    assert pg.claim_sources(claim("b"), ["s1", "s2"], 5) == ["s1"]


@pytest.mark.postgres
def test_replicas_starting_together_on_a_new_database_all_open_it(postgres_url: str) -> None:
    from tests.support.postgres import scratch_schema

    with scratch_schema(postgres_url) as url:
        gate = threading.Barrier(4)
        opened: list[Store | BaseException] = []

        def replica() -> None:
            gate.wait()
            try:
                opened.append(Store(url))
            except BaseException as exc:  # noqa: BLE001 - reported by the assert below
                opened.append(exc)

        threads = [threading.Thread(target=replica) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            assert all(isinstance(s, Store) for s in opened), opened
            assert {s.schema_version() for s in opened if isinstance(s, Store)} == {SCHEMA_VERSION}
        finally:
            for s in opened:
                if isinstance(s, Store):
                    s.close()


@pytest.mark.postgres
def test_a_source_leased_by_another_replica_is_not_fetched(
    tmp_path: Path, postgres_url: str
) -> None:
    from tests.support.postgres import scratch_schema

    with scratch_schema(postgres_url) as url:
        config = two_cities(tmp_path)
        one, two = Pipeline(tmp_path, config, store_url=url), None
        try:
            two = Pipeline(tmp_path, config, store_url=url, feeds=one.feeds)
            one.feeds.entries[DUEREN_FEED] = [Entry("n1", "Hallo.", "<p>Hallo.</p>", "https://x/1")]
            held = one.app.lease_claim()
            assert one.store.take_source(held, "dueren-news", "dueren")
            polls = {r.source_id: r for r in two.poll()}
            assert polls["dueren-news"].message == "being polled by another replica"
            assert [str(r.url) for r in one.feeds.requests] == [
                "https://www.jinhua.example/news.xml"
            ]
            one.store.release_source(one.app.holder, "dueren-news")
            assert {r.source_id: r.new for r in two.poll()}["dueren-news"] == 1
        finally:
            one.close()
            if two is not None:
                two.close()
