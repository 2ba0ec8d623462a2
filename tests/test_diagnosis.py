"""Errors and logs a person can act on: a network that is down is named as such and
retried at the source's interval (no backoff); debug logs show every request and
decision; info stays quiet; waiting for models is said as such."""

from __future__ import annotations

import errno
import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from click.testing import CliRunner

from syncd import decide
from syncd.cli import main
from syncd.models import SourceRow
from syncd.net.http import network_failure
from tests.support.cli import DE_ITEM, serve_feeds
from tests.support.configs import feed_source, write_config
from tests.support.loopback import LoopbackServer

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def run(config: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_a_name_that_does_not_resolve_is_said_so_and_retried_at_the_interval(
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path, feed_source("dueren-news", "http://feeds.syncd.invalid/de.xml"), ""
    )
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "respect_robots = false", "respect_robots = true"
        ),
        encoding="utf-8",
    )
    for _ in range(3):  # three failed first starts in a row
        code, out, _err = run(config, "sync")
        assert code == 5  # the source failed; no models are installed either
    assert "FAIL  dueren-news: http://feeds.syncd.invalid/de.xml: name not resolved" in out
    assert "robots.txt unavailable" not in out
    report = json.loads(run(config, "status", "--json")[1])
    (s,) = report["sources"]
    assert s["failures"] == 3 and "name not resolved" in s["last_error"]
    waited = datetime.fromisoformat(s["next_poll"]) - datetime.fromisoformat(s["last_poll"])
    assert waited == timedelta(minutes=15)  # the interval, not 2**3 × 15 min


def test_network_failures_are_named_from_the_cause() -> None:
    def connect_error(cause: BaseException) -> httpx.ConnectError:
        try:
            raise httpx.ConnectError("connect failed") from cause
        except httpx.ConnectError as exc:
            return exc

    unreachable = OSError(errno.ENETUNREACH, "Network is unreachable")
    assert network_failure(connect_error(unreachable)) == ("network unreachable", True)
    no_name = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    reason, offline = network_failure(connect_error(no_name))
    assert reason.startswith("name not resolved") and offline
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    reason, offline = network_failure(connect_error(refused))
    assert reason.startswith("network error: ") and not offline  # the server's side


def test_offline_polls_are_not_backed_off_but_other_failures_are() -> None:
    row = SourceRow("s", "c", consecutive_failures=5)
    policy = decide.PollPolicy(interval=timedelta(minutes=15), jitter=0.0)
    offline = decide.poll_failed(row, decide.SourceFailure("x", offline=True), policy, NOW, 0.5)
    assert offline.source.next_poll_at == NOW + timedelta(minutes=15)
    assert offline.source.failures == 6  # still counted: status and /healthz see it
    down = decide.poll_failed(row, decide.SourceFailure("HTTP 500"), policy, NOW, 0.5)
    assert down.source.next_poll_at == NOW + timedelta(minutes=15) * 2**6


def test_debug_logs_every_request_and_decision_info_stays_quiet(
    tmp_path: Path, server: LoopbackServer
) -> None:
    serve_feeds(server, [DE_ITEM], [])
    config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
    _code, _out, err = run(config, "--log-level", "info", "sync")
    assert " syncd.http " not in err and " decided " not in err
    assert "waiting-for-models items=1 routes=de->zh" in err
    assert "translated requests=" not in err  # not "translated requests=1 ok=0"

    (tmp_path / "b").mkdir()
    config2 = write_config(tmp_path / "b", feed_source("dueren-news", f"{server.url}/de.xml"), "")
    _code, _out, err = run(config2, "--log-level", "debug", "sync")
    (line,) = [x for x in err.splitlines() if " DEBUG syncd.http http method=GET " in x]
    assert f"url={server.url}/de.xml status=200 ms=" in line
    assert "bytes=" in line and "cache_hit=False who=dueren-news" in line
    assert (
        " DEBUG syncd.sync decided item=news-1 target=jinhua state=pending action=reconcile" in err
    )
    assert " DEBUG syncd.sync poll-decided source=dueren-news new=1" in err
