"""Store domain: a consistent copy of the whole state while syncd runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from ..errors import StoreError
from .base import wrap_exceptions


class BackupMixin:
    engine: Engine
    display_url: str

    @wrap_exceptions("backing up the store")
    def backup(self, target: Path) -> int:
        """Copy the SQLite store to ``target`` with SQLite's online backup API: a
        consistent snapshot, taken while the daemon keeps writing (it waits for no
        one and blocks no one for long). Returns the copy's size in bytes. ``target``
        must not exist. PostgreSQL: raises ``StoreError`` pointing to ``pg_dump``."""
        if self.engine.dialect.name != "sqlite":
            raise StoreError(
                f"store {self.display_url}: syncd backs up SQLite only; back up "
                "PostgreSQL with its own tools, e.g. `pg_dump -Fc -f syncd.dump <database>`"
            )
        target = Path(target)
        if target.exists():
            raise StoreError(f"backup: {target} exists already; give a new file")
        try:
            dest = sqlite3.connect(target)
        except sqlite3.Error as exc:
            raise StoreError(f"backup: cannot create {target} ({exc})") from exc
        raw: Any = self.engine.raw_connection()
        try:
            source = raw.driver_connection
            with dest:
                source.backup(dest, pages=256)  # in steps: writers go on in between
        except sqlite3.Error as exc:
            dest.close()
            target.unlink(missing_ok=True)
            raise StoreError(f"backup to {target}: {exc}") from exc
        finally:
            raw.close()
        dest.close()
        return target.stat().st_size
