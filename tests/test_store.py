"""The store on a real SQLite file: schema versioning, intents applied whole, memory,
and one error boundary (every database failure is a ``StoreError`` naming the store)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncd import decide
from syncd.errors import StoreError
from syncd.intents import (
    ChangedItem,
    NewDelivery,
    NewItem,
    Park,
    PollIntent,
    SourcePolled,
    TargetHealthChange,
)
from syncd.models import DeliveryState, Image, Item, QualityFlag, Translation
from syncd.store import SCHEMA_VERSION, Store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path}/state/syncd.db")


def polled(source_id: str = "src", at: datetime = NOW, **kw: object) -> SourcePolled:
    args: dict[str, object] = dict(
        source_id=source_id,
        city_id="dueren",
        at=at,
        result="ok",
        next_poll_at=at + timedelta(minutes=15),
        failures=0,
        ok=True,
    )
    args.update(kw)
    return SourcePolled(**args)  # type: ignore[arg-type]


def new(item: Item, *deliveries: NewDelivery) -> NewItem:
    return NewItem(item, item.content_hash(), deliveries or (NewDelivery("jinhua"),))


def test_creates_file_in_wal_mode_and_versions_schema(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert (tmp_path / "state" / "syncd.db").exists()
    assert s.schema_version() == SCHEMA_VERSION
    with s.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    s.close()
    Store(s.url).close()  # reopening applies nothing and keeps data


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    s = store(tmp_path)
    with s.engine.begin() as c:
        c.exec_driver_sql(f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}")
    s.close()
    with pytest.raises(StoreError, match="newer than this syncd"):
        Store(s.url)


def test_a_version_1_store_loses_the_unused_media_table_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # what syncd 0.1.0 (schema 1) left behind
        db.executescript(
            """
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version VALUES (1);
            CREATE TABLE media (target_city VARCHAR, sha256 VARCHAR, remote_id VARCHAR NOT NULL,
                url VARCHAR, created_at VARCHAR(40) NOT NULL, PRIMARY KEY (target_city, sha256));
            CREATE TABLE counters (scope VARCHAR, name VARCHAR, value INTEGER NOT NULL,
                PRIMARY KEY (scope, name));
            INSERT INTO counters VALUES ('src', 'alerts', 3);
            """
        )
    s = Store(f"sqlite:///{path}")
    assert s.schema_version() == SCHEMA_VERSION
    with s.engine.connect() as c:
        assert not sa.inspect(c).has_table("media")
    assert s.counters() == {"src": {"alerts": 3}}
    s.close()


def test_naive_datetimes_are_a_bug_not_a_store_error(tmp_path: Path) -> None:
    s = store(tmp_path)
    with pytest.raises(sa.exc.StatementError) as info:
        s.apply_poll(PollIntent(polled(at=datetime(2026, 1, 1))))
    assert not isinstance(info.value, StoreError)


def test_a_poll_is_applied_whole_items_versions_deliveries_and_source(tmp_path: Path) -> None:
    s = store(tmp_path)
    it = Item(
        "src", "k1", "https://a/1", "Titel", "Sum", "<p>Body</p>", NOW,
        (Image("https://a/i.jpg", "image/jpeg"),), ("Kultur",),
    )  # fmt: skip
    old = Item("src", "k2", None, "Alt", published=NOW - timedelta(days=100))
    s.apply_poll(
        PollIntent(
            polled(validators=("etag-1", None), activate=True, new_items=2, alert="odd"),
            new=(new(it), new(old, NewDelivery("jinhua", "first activation: old"))),
        )
    )
    rows = s.items_by_keys("src", ["k1", "k2"])
    assert rows["k1"].current_version == 1 and rows["k1"].current_hash == it.content_hash()
    assert s.item_version(rows["k1"].id) == it
    assert s.delivery_counts() == {"jinhua": {"pending": 1, "skipped": 1}}
    (src,) = s.sources()
    assert (src.etag, src.activated_at, src.items_seen, src.alert) == ("etag-1", NOW, 2, "odd")
    later = NOW + timedelta(hours=1)
    changed = Item("src", "k1", "https://a/1", "Titel 2", "Sum", "<p>Body</p>", NOW)
    s.apply_poll(
        PollIntent(
            polled(at=later, activate=True, count_alert=True),
            changed=(ChangedItem(rows["k1"].id, 2, changed, changed.content_hash(), 1),),
            seen=(rows["k2"].id,),
        )
    )
    rows = s.items_by_keys("src", ["k1", "k2"])
    assert rows["k1"].current_version == 2 and rows["k1"].hash_changes == 1
    assert rows["k2"].last_seen_at == later
    assert s.item_version(rows["k1"].id, 1).title == "Titel"
    assert s.item_version(rows["k1"].id).title == "Titel 2"
    (src,) = s.sources()
    assert src.activated_at == NOW, "the first activation is kept"
    assert src.alert is None and s.counters() == {"src": {"alerts": 1}}


def test_a_failing_poll_half_way_leaves_nothing(tmp_path: Path) -> None:
    s = store(tmp_path)
    a = Item("src", "a", None, "A")
    dup = NewItem(a, a.content_hash(), (NewDelivery("jinhua"),))
    with pytest.raises(StoreError):  # the second insert of one key breaks the transaction
        s.apply_poll(PollIntent(polled(new_items=2), new=(dup, dup)))
    assert s.items_by_keys("src", ["a"]) == {} and s.sources() == []


def test_translation_and_memory(tmp_path: Path) -> None:
    s = store(tmp_path)
    it = Item("src", "k1", None, "T")
    s.apply_poll(PollIntent(polled(), new=(new(it),)))
    row = s.items_by_keys("src", ["k1"])["k1"]
    t = Translation(
        "zh",
        "标题",
        "",
        "<p>正文</p>",
        {"title": "Title"},
        (QualityFlag("numbers", 0, "3≠4"),),
        ("translate-de_en@1.0",),
    )
    s.save_translation(row.id, 1, t, NOW)
    s.save_translation(row.id, 1, t, NOW)  # idempotent
    assert s.translation(row.id, 1, "zh") == t
    assert s.quality_flag_counts() == {"numbers": 1}
    s.remember("r@1", {"Hallo.": "Hello."}, NOW)
    s.remember("r@1", {"Hallo.": "Hello.", "Welt.": "World."}, NOW)
    assert s.recall("r@1", ["Hallo.", "Welt.", "Neu."]) == {"Hallo.": "Hello.", "Welt.": "World."}
    assert s.recall("r@2", ["Hallo."]) == {}


def test_parked_deliveries_can_be_retried(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.apply_poll(PollIntent(polled(), new=(new(Item("src", "k", None, "T")),)))
    ((d, it),) = s.deliveries()
    s.apply_delivery(Park(it.id, "jinhua", DeliveryState.CREATING, 8, "boom"), NOW)
    assert [i.key for _d, i in s.deliveries(DeliveryState.PARKED)] == ["k"]
    assert s.retry_parked(NOW) == 1
    d2 = s.delivery(it.id, "jinhua")
    assert d2 is not None and d2.state is DeliveryState.CREATING and d2.attempts == 0
    with pytest.raises(StoreError, match="no delivery"):
        s.apply_delivery(Park(it.id, "nowhere", DeliveryState.PENDING, 1, "x"), NOW)


def test_every_delivery_intent_from_decide_applies(tmp_path: Path) -> None:
    """The intents ``decide`` returns for each step are ones the store understands."""
    from syncd.models import RemoteStatus

    s = store(tmp_path)
    s.apply_poll(PollIntent(polled(), new=(new(Item("src", "k", None, "T")),)))
    ((d, it),) = s.deliveries()
    steps = [
        decide.mark_creating(d, it),
        decide.written(d, it, 1, "r1", "https://x/1", "fp"),
        decide.waiting_for_models(d, "no model"),
        decide.after_delivery_failure(
            d,
            DeliveryState.PUSHED,
            decide.FailureKind.RETRYABLE,
            "503",
            None,
            decide.RetryPolicy(),
            NOW,
            0.5,
        ),  # fmt: skip
        decide.note_reviewed(d, it),
        decide.hand_off(d, it, RemoteStatus.PUBLISHED, changed=True),
    ]
    for step in steps:
        s.apply_delivery(step, NOW)
    final = s.delivery(it.id, "jinhua")
    assert final is not None and final.state is DeliveryState.PUBLISHED
    assert final.remote_id == "r1" and final.changed_after_review and final.attempts == 1


def test_target_health_changes(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.target_health("jinhua").healthy
    s.apply_target_health(TargetHealthChange("jinhua", False, "401", "abc"), NOW)
    h = s.target_health("jinhua")
    assert (h.healthy, h.reason, h.credential, h.since) == (False, "401", "abc", NOW)


def test_inbound_dedupes_on_message_id(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.accept_inbound("in", "msg_1", "{}", NOW)
    assert not s.accept_inbound("in", "msg_1", "{}", NOW)
    assert [m for m, _p in s.pending_inbound("in")] == ["msg_1"]
    s.consume_inbound("in", ["msg_1"])
    assert s.pending_inbound("in") == []


# ------------------------------------------------------------- the error boundary


def test_a_locked_database_is_a_store_error_naming_the_store(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.close()
    db = tmp_path / "state" / "syncd.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sqlite3, sys, time
                c = sqlite3.connect({str(db)!r}, isolation_level=None)
                c.execute("PRAGMA locking_mode=EXCLUSIVE")
                c.execute("BEGIN EXCLUSIVE")
                c.execute("INSERT INTO counters VALUES ('x', 'y', 1)")
                print("locked", flush=True)
                time.sleep(30)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match=r"syncd\.db: locked by another process") as info:
            Store(f"sqlite:///{db}", busy_timeout=0.2)
        assert isinstance(info.value.__cause__, sa.exc.OperationalError)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_a_full_disk_is_a_store_error(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.close()
    # SQLite's own limit on the file's size: writes past it fail as on a full disk
    full = Store(s.url)
    sa.event.listen(full.engine, "connect", lambda c, _r: c.execute("PRAGMA max_page_count=1"))
    full.engine.dispose()
    with pytest.raises(StoreError, match="disk is full .while recording a poll"):
        full.apply_poll(PollIntent(polled(), new=(new(Item("src", "k", None, "T" * 100_000)),)))
    full.close()


@pytest.mark.parametrize(
    "content",
    [b"this is not a database, just text\n" * 200, b"SQLite format 3\x00" + b"\xff" * 8000],
    ids=["text", "damaged-header"],
)
def test_a_corrupt_file_is_a_store_error(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "syncd.db"
    db.write_bytes(content)
    with pytest.raises(StoreError, match="damaged or not a syncd database"):
        Store(f"sqlite:///{db}")


def test_an_unreadable_folder_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot read it .Not a directory"):
        Store(f"sqlite:///{blocker}/state/syncd.db")


def test_a_missing_driver_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="unusable URL or driver"):
        Store("nosuchdb://x/y")


# ----------------------------------------------- one owner, created only on purpose


def test_one_process_per_state_the_second_is_refused_naming_the_holder(tmp_path: Path) -> None:
    from syncd.errors import StoreBusy

    url = f"sqlite:///{tmp_path}/syncd.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from syncd.store import Store\n"
            f"s = Store({url!r}); s.claim('run'); print('owner', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "owner"
        second = Store(url)
        with pytest.raises(StoreBusy, match=rf"in use by `syncd run` \(pid {holder.pid} on "):
            second.claim("sync")
        second.close()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    # the kernel dropped the dead holder's lock: the state is free again
    third = Store(url)
    third.claim("sync")
    third.close()


def test_a_store_is_created_only_when_asked_and_never_from_an_empty_file(tmp_path: Path) -> None:
    from syncd.store import probe

    url = f"sqlite:///{tmp_path}/state/syncd.db"
    with pytest.raises(StoreError, match="does not exist yet"):
        Store(url, create=False)
    assert not (tmp_path / "state").exists()
    assert probe(url) == (
        [],
        [f"store {url}: does not exist yet (`syncd run` or `syncd sync` creates it)"],
    )
    Store(url).close()
    assert probe(url) == ([], [])
    (tmp_path / "state" / "syncd.db").write_bytes(b"")
    for create in (True, False):
        with pytest.raises(StoreError, match=r"empty \(0 bytes\)"):
            Store(url, create=create)
    assert "empty (0 bytes)" in probe(url)[0][0]


def test_probe_names_damaged_newer_and_unreadable_stores_and_changes_nothing(
    tmp_path: Path,
) -> None:
    from syncd.store import probe

    db = tmp_path / "syncd.db"
    url = f"sqlite:///{db}"
    db.write_bytes(b"not a database at all\n" * 100)
    before = db.read_bytes()
    (problem,), _ = probe(url)
    assert "damaged or not a syncd database" in problem and db.read_bytes() == before
    db.unlink()
    s = Store(url)
    with s.engine.begin() as c:
        c.exec_driver_sql(f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}")
    s.close()
    (problem,), _ = probe(url)
    assert "newer than this syncd" in problem
    assert probe("postgresql+nosuchdriver://u:secret@h/db")[0][0].count("secret") == 0
