"""The store on a real SQLite file: schema versioning, records, deliveries, memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncd.errors import StoreError
from syncd.models import DeliveryState, Image, Item, QualityFlag, Translation
from syncd.store import SCHEMA_VERSION, Store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path}/state/syncd.db")


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


def test_naive_datetimes_are_a_bug(tmp_path: Path) -> None:
    s = store(tmp_path)
    with pytest.raises(sa.exc.StatementError):
        s.update_source("x", last_poll_at=datetime(2026, 1, 1))


def test_items_versions_deliveries_roundtrip(tmp_path: Path) -> None:
    s = store(tmp_path)
    it = Item(
        "src",
        "k1",
        "https://a/1",
        "Titel",
        "Sum",
        "<p>Body</p>",
        NOW,
        (Image("https://a/i.jpg", "image/jpeg"),),
        ("Kultur",),
    )
    rows = s.record_items("dueren", [(it, "new")], ["jinhua"], {}, NOW)
    assert rows[0].current_version == 1
    d = s.delivery(rows[0].id, "jinhua")
    assert d is not None and d.state is DeliveryState.PENDING
    assert s.item_version(rows[0].id) == it
    changed = Item("src", "k1", "https://a/1", "Titel 2", "Sum", "<p>Body</p>", NOW)
    rows = s.record_items(
        "dueren", [(changed, "changed")], ["jinhua"], {}, NOW + timedelta(hours=1)
    )
    assert rows[0].current_version == 2 and rows[0].hash_changes == 1
    assert s.item_version(rows[0].id, 1).title == "Titel"
    assert s.item_version(rows[0].id).title == "Titel 2"
    skipped = Item("src", "k2", None, "Alt", published=NOW - timedelta(days=100))
    s.record_items("dueren", [(skipped, "new")], ["jinhua"], {"k2": "first activation: old"}, NOW)
    counts = s.delivery_counts()
    assert counts == {"jinhua": {"pending": 1, "skipped": 1}}


def test_translation_and_memory(tmp_path: Path) -> None:
    s = store(tmp_path)
    it = Item("src", "k1", None, "T")
    (row,) = s.record_items("dueren", [(it, "new")], ["jinhua"], {}, NOW)
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
    (row,) = s.record_items("dueren", [(Item("src", "k", None, "T"), "new")], ["jinhua"], {}, NOW)
    s.update_delivery(
        row.id,
        "jinhua",
        NOW,
        state=DeliveryState.PARKED,
        parked_state="creating",
        attempts=8,
        last_error="boom",
    )
    assert [i.key for _d, i in s.deliveries(DeliveryState.PARKED)] == ["k"]
    assert s.retry_parked(NOW) == 1
    d = s.delivery(row.id, "jinhua")
    assert d is not None and d.state is DeliveryState.CREATING and d.attempts == 0


def test_inbound_dedupes_on_message_id(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.accept_inbound("in", "msg_1", "{}", NOW)
    assert not s.accept_inbound("in", "msg_1", "{}", NOW)
    assert [m for m, _p in s.pending_inbound("in")] == ["msg_1"]
    s.consume_inbound("in", ["msg_1"])
    assert s.pending_inbound("in") == []
