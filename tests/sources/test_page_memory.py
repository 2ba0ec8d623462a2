"""The store's memory of article pages: round trip, replacement, and the migration
that brings an older state forward (issue 12, item 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from syncd.models import PageRecord
from syncd.store import SCHEMA_VERSION, Store
from syncd.store.schema import MIGRATIONS, _add_pages

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def record(url: str, etag: str | None = '"e1"', content: str = "c1") -> PageRecord:
    return PageRecord(url, etag, None, content, "entry", AT, AT + timedelta(hours=6))


def test_records_round_trip_and_are_replaced_per_source(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/s.db")
    try:
        store.remember_pages("a", [record("https://x/1"), record("https://x/2")])
        store.remember_pages("b", [record("https://x/1", etag=None)])
        store.remember_pages("a", [record("https://x/1", etag='"e2"', content="c2")])
        got = store.pages("a", ["https://x/1", "https://x/2", "https://x/3"])
        assert got == {
            "https://x/1": record("https://x/1", etag='"e2"', content="c2"),
            "https://x/2": record("https://x/2"),
        }
        assert store.pages("b", ["https://x/1"])["https://x/1"].etag is None
    finally:
        store.close()


def test_an_older_state_gets_the_table(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(f"sqlite:///{path}")
    with store.engine.begin() as c:  # the state as the previous version left it
        c.exec_driver_sql("DROP TABLE pages")
        before = MIGRATIONS.index(_add_pages) + 1  # the version _add_pages takes forward
        c.exec_driver_sql(f"UPDATE schema_version SET version = {before}")
    store.close()
    store = Store(f"sqlite:///{path}")
    try:
        assert store.schema_version() == SCHEMA_VERSION
        with store.engine.connect() as c:
            assert sa.inspect(c).has_table("pages")
        store.remember_pages("a", [record("https://x/1")])
        assert list(store.pages("a", ["https://x/1"])) == ["https://x/1"]
    finally:
        store.close()
