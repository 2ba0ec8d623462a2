"""Writing a file so that readers see the old or the new content, never a part.
Contains no business logic; the targets that write folders (outbox, feed) share it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """``data`` into ``path`` through a synced temp file renamed into place (a process
    killed meanwhile leaves only a ``.<name>.*.tmp`` file, never a torn ``path``)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
