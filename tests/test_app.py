"""Wiring: every command gets its parts from ``make_app``; what a command does not use
is never built (the translator above all); the daemon asks the kinds."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.app import make_app
from syncd.config import Config, load
from syncd.daemon import Daemon
from syncd.errors import ConfigError
from syncd.kinds import TABLE
from syncd.store import Store
from tests.support.cli import cli
from tests.support.configs import feed_source, write_config
from tests.support.loopback import LoopbackServer

#: a glossary that cannot be read: whatever builds the translator fails on it
BROKEN_GLOSSARY = """
[translate]
glossary = "no-such-glossary.toml"
"""


def broken_glossary_config(tmp_path: Path, server: LoopbackServer) -> Path:
    return write_config(
        tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "", extra=BROKEN_GLOSSARY
    )


def test_make_app_builds_the_translator_and_the_client_on_first_use(
    tmp_path: Path, server: LoopbackServer
) -> None:
    cfg = load(broken_glossary_config(tmp_path, server), kinds=TABLE)
    app = make_app(cfg)  # the glossary is not read yet
    try:
        assert app.store.sources() == []
        with pytest.raises(ConfigError, match="cannot read glossary"):
            _ = app.translator
        assert app.http is app.http  # built once
    finally:
        app.close()


def test_status_and_retry_never_build_a_translator(tmp_path: Path, server: LoopbackServer) -> None:
    config = broken_glossary_config(tmp_path, server)
    r = cli(config, "status")  # no command that says so created the store yet
    assert r.exit_code == 1 and "does not exist yet" in r.output, r.output
    assert not (tmp_path / "state").exists()
    Store(f"sqlite:///{tmp_path}/state/syncd.db").close()
    r = cli(config, "status")
    assert r.exit_code == 6, r.output  # no models: a person is needed
    assert "dueren-news (feed, dueren): never polled" in r.output
    r = cli(config, "retry")
    assert r.exit_code == 0, r.output
    assert "re-queued 0 parked deliveries" in r.output


def test_commands_that_translate_stop_on_a_bad_glossary_before_any_work(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = broken_glossary_config(tmp_path, server)
    r = cli(config, "sync")
    assert r.exit_code == 2 and "cannot read glossary" in r.output  # 2: config unusable
    assert server.requests == []  # nothing was polled
    r = cli(config, "translate", "--from", "de", "--to", "zh", "Hallo")
    assert r.exit_code == 2 and "cannot read glossary" in r.output


def test_check_reports_the_glossary_and_records_nothing(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = broken_glossary_config(tmp_path, server)
    r = cli(config, "check")
    assert r.exit_code == 6
    assert "FAIL translate: " in r.output and "cannot read glossary" in r.output
    assert not (tmp_path / "state" / "syncd.db").exists()


def test_a_scratch_app_records_nothing_and_a_store_is_not_also_scratch(tmp_path: Path) -> None:
    config = write_config(tmp_path, "", "")
    cfg = load(config, kinds=TABLE)
    app = make_app(cfg, scratch=True)
    app.close()
    assert not (tmp_path / "state" / "syncd.db").exists()
    store = Store(f"sqlite:///{tmp_path}/other.db")
    try:
        with pytest.raises(ValueError, match="not both"):
            make_app(cfg, store=store, scratch=True)
    finally:
        store.close()


def daemon_config(tmp_path: Path, server: LoopbackServer) -> Config:
    inbound = (
        '{ id = "jinhua-push", kind = "inbound", interval = "30s", '
        'secret = { env = "SYNCD_TEST_PUSH_SECRET" } }'
    )
    path = write_config(
        tmp_path,
        feed_source("dueren-news", f"{server.url}/de.xml"),
        inbound,
        extra='[web]\nlisten = "127.0.0.1:0"',  # the pushes come in on the front door
    )
    return load(path, kinds=TABLE)


def test_the_daemon_asks_each_kind_how_it_is_scheduled_and_what_it_serves(
    tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_TEST_PUSH_SECRET", "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=")
    # a clock a day ahead: once polled, a source is due again only tomorrow + interval
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    app = make_app(daemon_config(tmp_path, server), clock=lambda: tomorrow)
    daemon = Daemon(app)
    try:
        daemon.start()
        jobs = {j.id: type(j.trigger).__name__ for j in daemon.scheduler.get_jobs()}
        # pushed: its queue is looked at once at start; polled: claimed when due
        assert jobs.items() >= {"claim": "IntervalTrigger", "deliver": "IntervalTrigger"}.items()
        (endpoint,) = daemon._servers  # the one front door, serving the push endpoint
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=5):
            pass
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(s.last_poll_at for s in app.store.sources()):
            time.sleep(0.05)
        polled = {s.id: s.last_poll_at for s in app.store.sources()}
        assert polled == {"dueren-news": tomorrow, "jinhua-push": tomorrow}
        time.sleep(1.5)  # more claim rounds: nothing is due, nothing is polled again
        assert [r.path for r in server.requests].count("/de.xml") == 1
    finally:
        daemon.stop()
        app.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", endpoint.port), timeout=1).close()
