"""Issue 9, the classes no other test proved through syncd's own commands and daemon:

- item 1: an unexpected exception in one source is that source's error and alert, the
  pass goes on; a job that crashes anyway backs off instead of spinning;
- item 5 / promise 9: lost state with an outbox or a webhook target never duplicates;
- item 7: a damaged store is one clear line and a non-zero exit from every command;
- item 10: a source's redirect stays on its host;
- item 13: inline credentials in a source URL never show, whatever the failure, in
  ``sync``, ``status``, ``status --json``, ``sources test`` or the stored last error.

Sources of other kinds than syncd's are made through the kinds table ``make_app``
takes (a plugin-shaped kind, not a patch of syncd's code).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syncd import sync
from syncd.app import make_app
from syncd.config import CityConfig, SourceConfig, load
from syncd.daemon import Daemon
from syncd.errors import StoreError
from syncd.kinds import TABLE, PolledKind, Table
from syncd.models import FetchResult, SourceState
from syncd.sources import feed
from tests.support.cli import DE_ITEM, cli, drafts, install_models, serve_feeds
from tests.support.configs import feed_source, write_config
from tests.support.feeds import rss
from tests.support.loopback import LoopbackServer, Reply
from tests.support.translator import FakeTranslator
from tests.support.webhook import WEBHOOK_SECRET, Receiver

SECRET = "s3cretpw"


# ------------------------------------------------------------------ 13: credentials


def test_inline_credentials_never_show_in_sync_status_sources_test_or_the_store(
    tmp_path: Path, server: LoopbackServer
) -> None:
    """Network errors were redacted; a feed that answered but was no feed (a parse
    error) showed the URL with its password everywhere."""
    routes = {
        "/html": Reply(200, b"<html><body>Wartung</body></html>", {"Content-Type": "text/html"}),
        "/garbage": Reply(200, b"\x89PNG\r\n garbage", {"Content-Type": "image/png"}),
        "/gone": Reply(404, b"no"),
        "/busy": Reply(429, b"", {"Retry-After": "120"}),
        "/huge": Reply(200, b"<rss>" + b" " * (11 * 2**20), {"Content-Type": "text/xml"}),
    }
    for path, reply in routes.items():
        server.routes[path] = lambda req, reply=reply: reply  # type: ignore[misc]
    base = server.url.replace("http://", f"http://reader:{SECRET}@")
    sources = ", ".join(feed_source(f"s{path[1:]}", f"{base}{path}") for path in routes)
    config = write_config(tmp_path, sources, "")

    r = cli(config, "sync")
    assert r.exit_code in (3, 5) and r.output.count("FAIL  ") == len(routes), r.output
    assert "not a feed" in r.output and "not a readable feed" in r.output
    shown = {"sync": r.output}
    shown["status"] = cli(config, "status").output
    shown["status --json"] = cli(config, "status", "--json").output
    for path in routes:
        shown[f"sources test s{path[1:]}"] = cli(config, "sources", "test", f"s{path[1:]}").output
    db = sa.create_engine(f"sqlite:///{tmp_path / 'state' / 'syncd.db'}")
    with db.connect() as conn:
        stored = conn.execute(sa.text("SELECT id, last_error, alert FROM sources")).all()
    db.dispose()
    shown["stored"] = repr(stored)
    assert len(stored) == len(routes) and all(row[1] for row in stored)
    for where, text in shown.items():
        assert SECRET not in text, (where, text)
    assert f"{server.url.replace('http://', 'http://***@')}/html: not a feed" in shown["status"]


# ------------------------------------------------------------------ 10: redirects


def test_a_feed_redirected_to_another_host_fails_and_that_host_is_never_asked(
    tmp_path: Path, server: LoopbackServer
) -> None:
    """127.0.0.1 and localhost are two hosts on one loopback server: the Host header
    shows which one a request was meant for."""
    server.routes["/moved"] = lambda req: Reply(301, b"", {"Location": "/de.xml"})
    server.routes["/away"] = lambda req: Reply(
        302, b"", {"Location": f"http://localhost:{server.port}/de.xml"}
    )
    server.routes["/de.xml"] = lambda req: Reply(200, rss([DE_ITEM]), {})
    config = write_config(
        tmp_path,
        ", ".join(
            [feed_source("moved", f"{server.url}/moved"), feed_source("away", f"{server.url}/away")]
        ),
        "",
    )
    r = cli(config, "sync")
    assert "ok    moved: 1 items" in r.output, r.output
    assert "FAIL  away: " in r.output
    assert "redirect to a host that is not allowed (localhost)" in r.output
    assert not [q for q in server.requests if q.headers["host"].startswith("localhost")]


# ------------------------------------------------------------------ 7: store damage


@pytest.mark.parametrize("damage", ["empty", "garbage", "newer"])
def test_a_damaged_store_is_one_line_and_a_failure_from_every_command(
    tmp_path: Path, server: LoopbackServer, damage: str
) -> None:
    serve_feeds(server, [DE_ITEM], [])
    config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
    db = tmp_path / "state" / "syncd.db"
    if damage == "newer":
        assert cli(config, "sync").exit_code in (0, 4)  # a real store, then from the future
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE schema_version SET version = version + 100"))
        engine.dispose()
    else:
        db.parent.mkdir()
        db.write_bytes(b"" if damage == "empty" else b"not a database at all\x00" * 200)
    before = db.read_bytes()
    for command in ("status", "check", "sync", "retry"):
        r = cli(config, command)  # a traceback would raise here (catch_exceptions=False)
        assert r.exit_code != 0, (command, r.output)
        lines = [ln for ln in r.output.splitlines() if str(db) in ln]
        assert len(lines) == 1, (command, r.output)
    assert db.read_bytes() == before  # nothing "repaired" or re-created over it
    assert drafts(config, "jinhua") == {}


# ---------------------------------------------------------- 5: lost state, two targets


def test_lost_state_with_an_outbox_never_duplicates_and_keeps_what_editors_did(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path
) -> None:
    a = DE_ITEM
    b = type(DE_ITEM)("news-2", "Welt.", "<p>Welt.</p>", "https://www.dueren.de/news/2")
    serve_feeds(server, [a, b], [])
    config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
    install_models(config, argos_package_dir)
    assert cli(config, "sync").exit_code == 0
    folder = tmp_path / "drafts" / "jinhua"
    stems = {d["source_key"]: stem for stem, d in drafts(config, "jinhua").items()}
    # an editor rejects a's draft and edits b's
    side = folder / f"{stems['news-1']}.json"
    doc = json.loads(side.read_text(encoding="utf-8"))
    side.write_text(json.dumps({**doc, "status": "rejected"}), encoding="utf-8")
    page = folder / f"{stems['news-2']}.html"
    page.write_text(page.read_text(encoding="utf-8").replace("世界", "世界！"), encoding="utf-8")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    (tmp_path / "state" / "syncd.db").unlink()  # the state is lost
    for _ in range(2):
        r = cli(config, "sync")
        assert r.exit_code == 0 and "0 created" in r.output, r.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    status = json.loads(cli(config, "status", "--json").output)
    assert status["targets"][1]["drafts"] == {"rejected": 1, "edited": 1}


def test_lost_state_with_a_webhook_resends_the_same_id_and_the_receiver_keeps_one(
    tmp_path: Path,
    server: LoopbackServer,
    argos_package_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A webhook cannot be asked; the stable ``webhook-id`` lets a receiver dedupe."""
    serve_feeds(server, [DE_ITEM], [])
    monkeypatch.setenv("SYNCD_TEST_GAPS_HOOK", WEBHOOK_SECRET)
    receiver = Receiver()
    try:
        config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
        text = config.read_text(encoding="utf-8").replace(
            'target = { kind = "outbox", path = "drafts/jinhua" }',
            f'target = {{ kind = "webhook", url = "{receiver.url}", '
            'secret = { env = "SYNCD_TEST_GAPS_HOOK" } }',
        )
        config.write_text(text, encoding="utf-8")
        install_models(config, argos_package_dir)
        assert "1 created" in cli(config, "sync").output
        (tmp_path / "state" / "syncd.db").unlink()
        assert "1 created" in cli(config, "sync").output  # sent again: it cannot know
        assert receiver.inbox.count_messages() == 1  # …but the receiver kept it once
        (item,) = receiver.inbox.db.execute("SELECT marker, version FROM items").fetchall()
        assert item[1] == 1
    finally:
        receiver.close()


# ------------------------------------------------------------ 1: a fault stays local


@dataclass
class Raising:
    """A source of a kind that raises ``error`` from every fetch, counting them."""

    id: str
    error: BaseException
    fetches: int = 0

    def fetch(self, state: SourceState) -> FetchResult:
        self.fetches += 1
        raise self.error

    def acknowledge(self, result: FetchResult) -> None:
        pass

    def close(self) -> None:
        pass


def with_kind(name: str, made: list[Raising], error: BaseException) -> Table:
    """syncd's kinds plus ``name``, whose sources raise ``error`` (feed's options)."""

    def build(source: SourceConfig, city: CityConfig, http: Any) -> Raising:
        made.append(Raising(source.id, error))
        return made[-1]

    kind = PolledKind(name, feed.Options, build)
    return Table(sources={**dict(TABLE.sources), name: kind}, targets=TABLE.targets)


def raising_config(tmp_path: Path, server: LoopbackServer, kind: str) -> Path:
    serve_feeds(server, [DE_ITEM], [])
    broken = (
        f'{{ id = "broken", kind = "{kind}", url = "http://u:{SECRET}@127.0.0.1:9/x", '
        'interval = "10s", jitter = 0.0 }'
    )
    return write_config(
        tmp_path, ", ".join([broken, feed_source("dueren-news", f"{server.url}/de.xml")]), ""
    )


def test_a_source_raising_a_bug_is_that_sources_error_and_alert_and_the_pass_goes_on(
    tmp_path: Path, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    made: list[Raising] = []
    kinds = with_kind("buggy", made, ZeroDivisionError(f"at http://u:{SECRET}@host/x"))
    cfg = load(raising_config(tmp_path, server, "buggy"), kinds=kinds)
    app = make_app(cfg, kinds=kinds, translator=FakeTranslator([("de", "zh")]))
    try:
        with caplog.at_level(logging.ERROR, logger="syncd"):
            results = [sync.poll(app, s.id) for _c, s in cfg.sources()]
        delivered = sync.deliver(app)
        rows = {r.id: r for r in app.store.sources()}
    finally:
        app.close()
    broken, good = results
    assert not broken.ok and good.ok and delivered.created == 1
    assert broken.message.startswith("internal error while reading this source: ZeroDivisionError")
    assert SECRET not in broken.message and SECRET not in str(rows["broken"].last_error)
    assert rows["broken"].alert and "ZeroDivisionError" in rows["broken"].alert
    assert rows["broken"].consecutive_failures == 1
    assert rows["broken"].next_poll_at is not None
    assert any(rec.exc_info for rec in caplog.records)  # the log has the traceback


def test_a_crashing_daemon_job_backs_off_instead_of_spinning(
    tmp_path: Path, server: LoopbackServer
) -> None:
    """A store failure is not the source's fault and propagates out of the poll: the
    job crashed and was re-armed at once, hundreds of times a second."""
    made: list[Raising] = []
    kinds = with_kind("storeless", made, StoreError("database is locked"))
    cfg = load(raising_config(tmp_path, server, "storeless"), kinds=kinds)
    app = make_app(cfg, kinds=kinds, translator=FakeTranslator([("de", "zh")]))
    daemon = Daemon(app)
    try:
        daemon.start()
        time.sleep(2.0)
        due = daemon._not_before.get("broken")  # not claimed again before this
        now = datetime.now(UTC)
    finally:
        daemon.stop()
        app.close()
    (source,) = made
    assert source.fetches == 1
    # backoff after the first crash: half to all of the 10 s interval
    assert due is not None and due - now > timedelta(seconds=2.5), due
    assert drafts_made(tmp_path) == 1  # the other source went on


def drafts_made(tmp_path: Path) -> int:
    return len(list((tmp_path / "drafts" / "jinhua").glob("syncd-*.json")))
