"""`syncd backup PATH`: a consistent copy of the SQLite state while a process keeps
using it, and the documented restore (the copy put in the store's place)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from syncd.cli import main
from syncd.store import Store
from tests.support.feeds import Entry
from tests.support.pipeline import DUEREN_FEED, Pipeline, two_cities

DE = [Entry(f"n{i}", f"Nachricht {i}.", f"<p>Text {i}.</p>") for i in range(5)]


def test_backup_while_in_use_and_restore(tmp_path: Path) -> None:
    config = two_cities(tmp_path)
    p = Pipeline(tmp_path, config)
    try:
        p.feeds.entries[DUEREN_FEED] = DE
        assert p.sync().created == 5
        before = p.states()
        # the CLI, on the shipped example config pointed at the same state
        shutil.copy(Path(__file__).parent.parent / "config" / "syncd.toml", tmp_path / "x.toml")
        text = (tmp_path / "x.toml").read_text(encoding="utf-8")
        text = text.replace(
            'url = "sqlite:///state/syncd.db"', f'url = "sqlite:///{tmp_path}/state/syncd.db"'
        )
        (tmp_path / "syncd.toml").write_text(text, encoding="utf-8")
        copy = tmp_path / "backups" / "syncd-1.db"
        copy.parent.mkdir()
        r = CliRunner().invoke(
            main, ["--config", str(tmp_path / "syncd.toml"), "backup", str(copy)]
        )
        assert r.exit_code == 0, r.output
        assert f"to {copy}" in r.output
        # the pipeline goes on writing meanwhile
        p.feeds.entries[DUEREN_FEED] = [*DE, Entry("n9", "Neu.", "<p>Neu.</p>")]
        assert p.sync().created == 1
        r = CliRunner().invoke(
            main, ["--config", str(tmp_path / "syncd.toml"), "backup", str(copy)]
        )
        assert r.exit_code == 1 and "exists already" in r.output  # never overwritten
    finally:
        p.close()
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # restore: syncd stopped, the copy in the store's place (its -wal/-shm removed)
    state = tmp_path / "state" / "syncd.db"
    for extra in (state, state.with_name("syncd.db-wal"), state.with_name("syncd.db-shm")):
        extra.unlink(missing_ok=True)
    shutil.copy(copy, state)
    restored = Store(f"sqlite:///{state}")
    try:
        states = {(i.key, d.target_city): d.state.value for d, i in restored.deliveries()}
        assert states == before  # what the backup saw; n9 is found again by its marker
    finally:
        restored.close()
