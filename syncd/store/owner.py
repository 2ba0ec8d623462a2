"""One process per state (promise 10): the owner lock of a SQLite store.

A SQLite state has one owner at a time: the process that runs passes over it
(``syncd run``, ``syncd sync``). It holds an exclusive ``flock`` on ``<db>.lock``
beside the database and writes who it is there (pid, command, host, since), so that a
second process is refused with a message naming the holder. The kernel drops the
lock when its holder dies, SIGKILL included: a stale lock file never blocks anyone.
Reading commands (``status``, ``check``) take no lock.

PostgreSQL states coordinate differently (several replicas sharing work by row
leases); they take no owner lock here.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import datetime
from pathlib import Path
from typing import IO

from ..errors import StoreBusy


class OwnerLock:
    """The owner lock of the SQLite database at ``db``."""

    def __init__(self, db: Path) -> None:
        self.path = db.with_name(db.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self, command: str, now: datetime) -> None:
        """Become the state's owner or raise ``StoreBusy`` naming the holder."""
        f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = _describe(f.read())
            f.close()
            raise StoreBusy(
                f"the state {self.path.with_suffix('')} is in use by {holder}; one process "
                "per state: stop it first (a second `syncd run` or a `syncd sync` beside "
                "the daemon would duplicate work)"
            ) from None
        except OSError:
            f.close()
            raise
        f.seek(0)
        f.truncate()
        json.dump(
            {
                "pid": os.getpid(),
                "command": command,
                "host": socket.gethostname(),
                "since": now.isoformat(timespec="seconds"),
            },
            f,
        )
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None


def _describe(text: str) -> str:
    try:
        info = json.loads(text)
        return (
            f"`syncd {info['command']}` (pid {info['pid']} on {info['host']}, "
            f"since {info['since']})"
        )
    except (ValueError, KeyError, TypeError):
        return "another syncd process"
