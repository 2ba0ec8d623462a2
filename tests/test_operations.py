"""Operations, told honestly: exit codes, a status that explains, `retry --now`.

Real parts through the real CLI (generated Argos models, the store on a file); the
edges we don't own are loopback servers: the feeds and a webhook receiver that is
down (connection refused), failing (500) or refusing us (401), then back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd import decide, exits, health
from syncd.exits import Exit
from syncd.intents import TargetContact
from syncd.models import SourceRow
from syncd.store import Store
from syncd.timefmt import relative
from tests.support.cli import DE_ITEM, ZH_ITEM, cli, drafts, install_models, serve_feeds
from tests.support.configs import feed_source, write_config
from tests.support.loopback import LoopbackServer, Reply

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOOK_SECRET = "whsec_c3luY2Qtb3BzLXRlc3Qtc2VjcmV0LTMyLWJ5dGVzIQ=="


def _webhook_config(tmp_path: Path, feeds: LoopbackServer, hook_url: str) -> Path:
    """Düren's feed → Jinhua's webhook (Jinhua has no source); an hour of backoff, so
    only `retry --now` brings a failed delivery back before then."""
    config = write_config(tmp_path, feed_source("dueren-news", f"{feeds.url}/de.xml"), "")
    text = config.read_text(encoding="utf-8").replace(
        'target = { kind = "outbox", path = "drafts/jinhua" }',
        f'target = {{ kind = "webhook", url = "{hook_url}", secret = {{ env = "OPS_HOOK_SECRET" }} }}',
    )
    config.write_text(text.replace('retry_base = "1s"', 'retry_base = "1h"'), encoding="utf-8")
    return config


@pytest.fixture
def hook() -> Iterator[LoopbackServer]:
    with_hook = LoopbackServer().start()
    yield with_hook
    with_hook.stop()


@pytest.mark.parametrize("failure", ["refused", "500", "401"])
def test_a_target_down_is_told_by_exit_codes_and_status_and_retry_now_delivers_once(
    tmp_path: Path,
    server: LoopbackServer,
    argos_package_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    monkeypatch.setenv("OPS_HOOK_SECRET", HOOK_SECRET)
    serve_feeds(server, [DE_ITEM], [])
    hook = LoopbackServer().start()
    port, answer = hook.port, {"status": 500 if failure == "500" else 401}
    hook.routes["/hook"] = lambda req: Reply(answer["status"], b"")
    if failure == "refused":
        hook.stop()  # nothing listens there any more: connection refused
    config = _webhook_config(tmp_path, server, f"http://127.0.0.1:{port}/hook")
    install_models(config, argos_package_dir)
    try:
        r = cli(config, "sync")
        assert r.exit_code == Exit.DELIVERIES_FAILED, r.output
        assert "needs a person: target jinhua" in r.output

        r = cli(config, "status", "--json")
        assert r.exit_code == Exit.ATTENTION
        report = json.loads(r.output)
        jinhua = next(t for t in report["targets"] if t["city"] == "jinhua")
        expected = {"refused": "network error", "500": "HTTP 500", "401": "HTTP 401"}[failure]
        assert expected in jinhua["reason"] and expected in jinhua["last_error"]
        assert jinhua["state"] == ("refused" if failure == "401" else "unreachable")
        assert jinhua["since"] and jinhua["healthy"] is False
        assert jinhua["waiting"] == 1 and jinhua["oldest_waiting_age_s"] >= 0
        # the failed create shows its error beside its state
        (failed,) = report["waiting"]
        assert failed["state"] == "creating" and expected in failed["reason"]
        if failure != "401":
            assert failed["next_attempt"] and jinhua["in_backoff"] == 1 and jinhua["next_attempt"]
        (problem,) = report["verdict"]["problems"]
        assert problem["subject"] == "jinhua" and problem["kind"].startswith("target-")
        assert report["verdict"]["ok"] is False
        text = cli(config, "status").output
        assert "jinhua (webhook): " + jinhua["state"].upper() + " since" in text
        assert re.search(r" since \S+ \((just now|\d+ \w+ ago)\)", text)
        assert "VERDICT: a person is needed" in text

        # a second pass while the target is down does not hide it
        assert cli(config, "sync").exit_code == Exit.DELIVERIES_FAILED

        # the target is back: a plain pass waits (backoff or refusal), retry --now does not
        if failure == "refused":
            hook = LoopbackServer(port).start()
            hook.routes["/hook"] = lambda req: Reply(answer["status"], b"")
        answer["status"] = 204
        hits_before = len(hook.hits("/hook"))
        r = cli(config, "retry", "--now")
        assert r.exit_code == 0, r.output
        if failure == "401":
            assert "and 0 waiting in backoff; refused targets tried again: jinhua" in r.output
        else:
            assert "re-queued 0 parked deliveries and 1 waiting in backoff" in r.output
        r = cli(config, "sync")
        assert r.exit_code == Exit.OK, r.output
        assert "1 created" in r.output
        assert len(hook.hits("/hook")) == hits_before + 1  # exactly once
        assert cli(config, "sync").exit_code == Exit.OK
        assert len(hook.hits("/hook")) == hits_before + 1

        r = cli(config, "status", "--json")
        assert r.exit_code == Exit.OK, r.output
        report = json.loads(r.output)
        jinhua = next(t for t in report["targets"] if t["city"] == "jinhua")
        assert jinhua["state"] == "ok" and jinhua["healthy"] and jinhua["last_ok"]
        assert expected in jinhua["last_error"]  # history kept after the recovery
        assert report["verdict"] == {"ok": True, "problems": []}
    finally:
        hook.stop()


def test_a_failing_source_exits_3_and_a_bad_config_exits_2(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path
) -> None:
    serve_feeds(server, [DE_ITEM], [ZH_ITEM])
    config = write_config(
        tmp_path,
        feed_source("dueren-news", f"{server.url}/de.xml"),
        feed_source("jinhua-news", f"{server.url}/missing.xml"),
    )
    install_models(config, argos_package_dir)
    r = cli(config, "sync")
    assert r.exit_code == Exit.SOURCES_FAILED, r.output
    assert "FAIL  jinhua-news" in r.output and len(drafts(config, "jinhua")) == 1

    config.write_text("bogus = 1\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    r = cli(config, "status")
    assert r.exit_code == Exit.USAGE and "bogus: unknown key" in r.output


def test_status_has_a_models_section_and_missing_models_need_a_person(
    tmp_path: Path, server: LoopbackServer
) -> None:
    serve_feeds(server, [DE_ITEM], [])
    config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
    r = cli(config, "sync")
    assert r.exit_code == Exit.DELIVERIES_FAILED and "1 waiting for models" in r.output
    r = cli(config, "status", "--json")
    assert r.exit_code == Exit.ATTENTION
    report = json.loads(r.output)
    assert report["models"]["installed"] == []
    missing = {m["route"]: m for m in report["models"]["missing"]}
    assert set(missing) == {"de->zh", "zh->de"}
    assert missing["de->zh"]["waiting"] == 1 and missing["zh->de"]["waiting"] == 0
    assert "syncd models install de zh" in missing["de->zh"]["problem"]
    kinds = {(p["kind"], p["subject"]) for p in report["verdict"]["problems"]}
    assert kinds == {("models-missing", "de->zh"), ("models-missing", "zh->de")}
    text = cli(config, "status").output
    assert "MODELS" in text and "MISSING de->zh" in text and "(1 items waiting)" in text


# ------------------------------------------------------------------ the pure parts


def test_exit_codes_of_a_pass_are_distinct() -> None:
    codes = {exits.of_pass(s, d) for s in (False, True) for d in (False, True)}
    assert codes == {Exit.OK, Exit.SOURCES_FAILED, Exit.DELIVERIES_FAILED,
                     Exit.SOURCES_AND_DELIVERIES}  # fmt: skip
    assert len({int(e) for e in Exit}) == len(Exit)


def test_relative_times_read_like_a_person_says_them() -> None:
    assert relative(NOW + timedelta(minutes=42), NOW) == "in 42 min"
    assert relative(NOW - timedelta(hours=3, minutes=5), NOW) == "3 h ago"
    assert relative(NOW - timedelta(days=2), NOW) == "2 d ago"
    assert relative(NOW + timedelta(seconds=10), NOW) == "just now"
    assert relative(NOW - timedelta(minutes=59, seconds=50), NOW) == "1 h ago"


def test_a_pass_records_the_last_contact_with_each_target() -> None:
    ok, failed, none = (decide.ContactOutcome.ANSWERED, decide.ContactOutcome.FAILED,
                        decide.ContactOutcome.NONE)  # fmt: skip
    assert decide.target_contact("j", [(none, "")]) is None
    assert decide.target_contact("j", [(failed, "HTTP 500"), (none, "")]).error == "HTTP 500"  # type: ignore[union-attr]
    assert decide.target_contact("j", [(failed, "HTTP 500"), (ok, "")]).ok  # type: ignore[union-attr]
    # a refusal of one item (400) is an answer: the target is up
    assert decide.contact_after(decide.FailureKind.REJECTED) is ok
    assert decide.contact_after(decide.FailureKind.RETRYABLE) is failed


def test_a_source_goes_stale_after_failing_for_its_intervals() -> None:
    interval = timedelta(minutes=15)

    def problems(**row: object) -> set[str]:
        r = SourceRow("s", "c", **row)  # type: ignore[arg-type]
        return {p.kind for p in health.source_problems("s", interval, r, NOW, 3)}

    assert problems() == set()  # never polled yet
    assert problems(consecutive_failures=2) == set()
    assert problems(consecutive_failures=3) == {health.SOURCE_STALE}
    recent = NOW - timedelta(minutes=30)
    assert problems(last_ok_at=recent, consecutive_failures=1) == set()
    old = NOW - timedelta(minutes=46)
    assert problems(last_ok_at=old, consecutive_failures=1) == {health.SOURCE_STALE}
    # a quiet source (not modified, a long cache hint) is not stale while it answers
    assert problems(last_ok_at=old) == set()
    assert problems(alert="layout changed", last_ok_at=recent) == {health.SOURCE_ALERT}


def test_a_store_from_before_target_contacts_gets_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    s = Store(url)
    with s.engine.begin() as c:  # what the previous schema left: no target_contacts
        c.exec_driver_sql("DROP TABLE target_contacts")
        c.exec_driver_sql("UPDATE schema_version SET version = 2")
    s.close()
    s = Store(url)
    try:
        s.apply_target_contact(TargetContact("jinhua", "HTTP 500"), NOW)
        s.apply_target_contact(TargetContact("jinhua", "HTTP 502"), NOW + timedelta(minutes=5))
        h = s.target_health("jinhua")
        assert (h.failing_since, h.failures, h.last_error) == (NOW, 2, "HTTP 502")
        s.apply_target_contact(TargetContact("jinhua"), NOW + timedelta(minutes=9))
        h = s.target_health("jinhua")
        assert h.reachable and h.failures == 0 and h.last_ok_at == NOW + timedelta(minutes=9)
        assert h.last_error == "HTTP 502"  # kept for "last error" in status
    finally:
        s.close()
