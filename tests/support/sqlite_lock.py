"""Another process holding an exclusive lock on a SQLite file (what a second program,
a backup tool or a stuck syncd does). Contains no business logic."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive_lock(db: Path) -> Iterator[subprocess.Popen[str]]:
    """While inside, a separate process holds ``db`` in exclusive locking mode with a
    write transaction open: every other connection gets "database is locked"."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, time
            c = sqlite3.connect({str(db)!r}, isolation_level=None)
            c.execute("PRAGMA locking_mode=EXCLUSIVE")
            c.execute("BEGIN EXCLUSIVE")
            c.execute("INSERT INTO counters VALUES ('x', 'y', 1)")
            print("locked", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
