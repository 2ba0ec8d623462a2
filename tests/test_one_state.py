"""One process per state, and a store in trouble is one clear line: through the real
CLI in separate processes, against a real SQLite file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import DE_ITEM, drafts, install_models, serve_feeds
from tests.support.configs import feed_source, write_config
from tests.support.loopback import LoopbackServer
from tests.support.sqlite_lock import exclusive_lock


def syncd(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncd.cli", "--config", str(config), *args],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def one_clear_line(r: subprocess.CompletedProcess[str]) -> str:
    out = (r.stdout + r.stderr).strip()
    assert "Traceback" not in out, out
    return out


@pytest.fixture
def config(tmp_path: Path, server: LoopbackServer) -> Path:
    serve_feeds(server, [DE_ITEM], [])
    return write_config(
        tmp_path,
        feed_source("dueren-news", f"{server.url}/de.xml"),
        "",
        extra="",
    )


@pytest.fixture
def sqlite_locked(config: Path) -> Iterator[Path]:
    """Another process holds an exclusive lock on the state's SQLite file."""
    assert syncd(config, "sync").returncode in (0, 4)  # creates the store (no models: 4)
    db = config.parent / "state" / "syncd.db"
    with exclusive_lock(db):
        yield db


def test_a_locked_store_is_one_line_naming_it_from_sync_status_and_check(
    config: Path, sqlite_locked: Path
) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('url = "sqlite:///state/syncd.db"',
                                   'url = "sqlite:///state/syncd.db"\nbusy_timeout = "1s"'),
                      encoding="utf-8")  # fmt: skip
    for command in ("sync", "status", "check"):
        started = time.monotonic()
        r = syncd(config, command)
        out = one_clear_line(r)
        assert r.returncode != 0, (command, out)
        assert f"{sqlite_locked}: locked by another process" in out, (command, out)
        assert time.monotonic() - started < 30


def test_a_second_process_on_one_state_is_refused_naming_the_daemon(
    config: Path, argos_package_dir: Path
) -> None:
    install_models(config, argos_package_dir)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "syncd.cli", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not drafts(config, "jinhua") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert drafts(config, "jinhua"), "the daemon made no draft"
        for command in ("sync", "run"):
            r = syncd(config, command)
            out = one_clear_line(r)
            assert r.returncode == 1, out
            assert f"in use by `syncd run` (pid {daemon.pid} on " in out, out
        assert len(drafts(config, "jinhua")) == 1
        # reading commands are not refused
        assert syncd(config, "status").returncode == 0
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err[-2000:]
    # the daemon is gone, and with it its lock
    assert syncd(config, "sync").returncode == 0
