"""Pipeline behaviour beyond the happy path: parking and retry, target isolation,
logs without secrets, and the CLI's smaller commands."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncd import logs
from tests.support.cli import DE_ITEM, ZH_ITEM, cli, drafts, install_models, serve_feeds
from tests.support.configs import feed_source, write_config
from tests.support.feeds import Entry, rss
from tests.support.loopback import LoopbackServer, Reply


def test_a_target_that_refuses_parks_the_item_and_retry_requeues_it(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path
) -> None:
    serve_feeds(server, [DE_ITEM], [ZH_ITEM])
    config = write_config(
        tmp_path,
        feed_source("dueren-news", f"{server.url}/de.xml"),
        feed_source("jinhua-news", f"{server.url}/zh.xml"),
        extra="max_attempts = 1",
    )
    install_models(config, argos_package_dir)
    # Jinhua's outbox folder cannot be created: a file stands where it should be
    blocker = tmp_path / "drafts" / "jinhua"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")
    r = cli(config, "sync")
    assert "1 created" in r.output and "1 parked" in r.output  # Düren's draft still made it
    assert len(drafts(config, "dueren")) == 1
    status = json.loads(cli(config, "status", "--json").output)
    (parked,) = status["parked"]
    assert (
        parked["item"] == DE_ITEM.guid
        and parked["target"] == "jinhua"
        and "cannot write" in parked["reason"]
    )
    assert "PARKED (1; `syncd retry` re-queues)" in cli(config, "status").output
    # nothing happens to a parked item until someone says so
    assert "0 created" in cli(config, "sync").output
    blocker.unlink()
    r = cli(config, "retry")
    assert r.exit_code == 0 and "re-queued 1" in r.output
    assert "1 created" in cli(config, "sync").output
    assert len(drafts(config, "jinhua")) == 1
    assert json.loads(cli(config, "status", "--json").output)["parked"] == []


def test_a_fixed_outbox_folder_delivers_without_retry(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path
) -> None:
    """A permission or disk error is retried with backoff, not parked: once a person
    fixes the folder the draft goes out by itself (retry_base is 1 s here)."""
    serve_feeds(server, [DE_ITEM], [])
    config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
    install_models(config, argos_package_dir)
    blocker = tmp_path / "drafts" / "jinhua"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")
    r = cli(config, "sync")
    assert "1 failed" in r.output and "0 parked" in r.output, r.output
    blocker.unlink()
    time.sleep(1.1)  # the first backoff is at most retry_base
    assert "1 created" in cli(config, "sync").output
    assert len(drafts(config, "jinhua")) == 1


def test_logs_never_carry_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("debug", "text")
    log = logs.get("syncd.test")
    log.info(
        "fetch",
        url="https://bot:s3cret@example.org/feed",
        password="hunter2",
        api_token="t0ken",
        item_key="k",
    )
    logs.setup("info", "json")
    log.warning("push", secret="hunter2", target="jinhua")
    err = capsys.readouterr().err
    assert "s3cret" not in err and "hunter2" not in err and "t0ken" not in err
    assert "item_key=k" in err and "https://***@example.org/feed" in err
    line = json.loads(err.strip().splitlines()[-1])
    assert line["event"] == "push" and line["target"] == "jinhua" and line["secret"] == "***"
    logging.getLogger("syncd").handlers.clear()


def test_sync_logs_one_event_per_line_without_feed_credentials(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path
) -> None:
    server.routes["/de.xml"] = lambda req: Reply(
        200, rss([DE_ITEM]), {"Content-Type": "application/rss+xml"}
    )
    url = server.url.replace("http://", "http://reader:pa55word@") + "/de.xml"
    config = write_config(tmp_path, feed_source("dueren-news", url), "")
    install_models(config, argos_package_dir)
    r = cli(config, "sync")
    assert r.exit_code == 0, r.output
    assert "pa55word" not in r.output
    events = [line for line in r.output.splitlines() if " INFO syncd." in line]
    assert any(" polled source=dueren-news " in e for e in events)
    assert any(" created item=news-1 " in e for e in events)


def test_check_passes_when_everything_is_in_place(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path
) -> None:
    config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
    assert cli(config, "check").exit_code == 6
    install_models(config, argos_package_dir)
    r = cli(config, "check")
    assert r.exit_code == 0, r.output
    assert "is usable" in r.output


def test_translate_and_models_list_commands(tmp_path: Path, argos_package_dir: Path) -> None:
    config = write_config(tmp_path, "", "")
    install_models(config, argos_package_dir)
    r = cli(config, "translate", "--from", "de", "--to", "zh", "Hallo Welt.")
    assert r.exit_code == 0 and r.output.strip().endswith("你好世界。"), r.output
    r = cli(config, "models", "list")
    assert r.exit_code == 0
    assert [line.split("\t")[0] for line in r.output.splitlines()] == [
        "de->en",
        "en->de",
        "en->zh",
        "zh->en",
    ]


def test_sources_test_records_nothing(tmp_path: Path, server: LoopbackServer) -> None:
    server.routes["/de.xml"] = lambda req: Reply(
        200, rss([DE_ITEM, Entry("x", "Welt.", "<p>Welt.</p>")]), {}
    )
    config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
    r = cli(config, "sources", "test", "dueren-news")
    assert r.exit_code == 0, r.output
    assert "2 items" in r.output and "- news-1" in r.output and "title: Hallo Welt." in r.output
    assert not (tmp_path / "state").exists()
    r = cli(config, "sources", "test", "nope")
    assert r.exit_code != 0 and "no source 'nope'" in r.output


def test_a_draft_adopted_after_a_crash_that_an_editor_touched_is_handed_off(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path
) -> None:
    from syncd.models import DeliveryState
    from syncd.store import Store

    serve_feeds(server, [DE_ITEM], [])
    config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
    install_models(config, argos_package_dir)
    assert "1 created" in cli(config, "sync").output
    (stem,) = drafts(config, "jinhua")
    page = tmp_path / "drafts" / "jinhua" / f"{stem}.html"
    page.write_text(page.read_text(encoding="utf-8").replace("世界", "世界!!"), encoding="utf-8")
    edited = page.read_text(encoding="utf-8")
    # the state a SIGKILL right after the remote create leaves: the write-ahead row
    store = Store(f"sqlite:///{tmp_path}/state/syncd.db")
    ((d, item),) = store.deliveries()
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE deliveries SET state = :s, remote_id = NULL, fingerprint = NULL"
                " WHERE item_id = :i"
            ),
            {"s": DeliveryState.CREATING.value, "i": item.id},
        )
    store.close()
    r = cli(config, "sync")
    assert "1 adopted" in r.output and "0 created" in r.output, r.output
    assert page.read_text(encoding="utf-8") == edited
    status = json.loads(cli(config, "status", "--json").output)
    assert status["targets"][1]["drafts"] == {"edited": 1}


def test_a_pass_talks_only_to_its_sources_offline_translation_included(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise 6: at run time syncd connects to the configured sources and targets
    only; translation never downloads anything (argostranslate's splitters would)."""
    import socket

    serve_feeds(server, [DE_ITEM], [ZH_ITEM])
    config = write_config(
        tmp_path,
        feed_source("dueren-news", f"{server.url}/de.xml"),
        feed_source("jinhua-news", f"{server.url}/zh.xml"),
    )
    install_models(config, argos_package_dir)
    seen: list[object] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        seen.append(address)
        if address != ("127.0.0.1", server.port):
            raise OSError(f"syncd tried to reach {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)
    r = cli(config, "sync")
    assert r.exit_code == 0, r.output
    assert "2 created" in r.output
    assert seen and set(seen) == {("127.0.0.1", server.port)}


def test_models_install_by_pair_from_an_index_on_loopback(
    tmp_path: Path, argos_packages: dict[tuple[str, str], Path]
) -> None:
    """`syncd models install de zh` through the normal index path (a mirror on
    127.0.0.1): the two pivot legs are found, downloaded, verified and installed."""
    from tests.support.argosgen import serve_index

    config = write_config(tmp_path, "", "")
    with serve_index(list(argos_packages.values())) as index_url:
        r = cli(config, "models", "install", "de", "zh", "--index-url", index_url)
        assert r.exit_code == 0, r.output
        r = cli(config, "models", "install", "xx", "zh", "--index-url", index_url)
        assert r.exit_code != 0 and "xx" in r.output
    listed = cli(config, "models", "list").output
    assert [line.split("\t")[0] for line in listed.splitlines()] == ["de->en", "en->zh"]
    r = cli(config, "translate", "--from", "de", "--to", "zh", "Hallo Welt.")
    assert r.output.strip().endswith("你好世界。")
    r = cli(config, "models", "remove", "en", "zh")
    assert r.exit_code == 0 and "removed en->zh" in r.output
    r = cli(config, "translate", "--from", "de", "--to", "zh", "Hallo Welt.")
    assert r.exit_code != 0 and "syncd models install de zh" in r.output


def test_a_target_refusing_credentials_is_not_hammered_until_they_change(
    tmp_path: Path,
    server: LoopbackServer,
    argos_package_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import base64

    entries = [Entry(f"k{i}", "Hallo Welt.", f"<p>Hallo Welt.</p><p>{i}</p>") for i in range(3)]
    serve_feeds(server, entries, [])
    answer = {"status": 401}
    server.routes["/hook"] = lambda req: Reply(answer["status"], b"")
    config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
    text = config.read_text(encoding="utf-8").replace(
        'target = { kind = "outbox", path = "drafts/jinhua" }',
        f'target = {{ kind = "webhook", url = "{server.url}/hook", secret = {{ env = "HOOK_SECRET" }} }}',
    )
    config.write_text(text, encoding="utf-8")
    install_models(config, argos_package_dir)
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + base64.b64encode(b"old-secret").decode())

    r = cli(config, "sync")
    assert len(server.hits("/hook")) == 1, r.output  # the first 401 stops the pass
    status = json.loads(cli(config, "status", "--json").output)
    jinhua = status["targets"][1]
    assert not jinhua["healthy"] and "401" in jinhua["reason"]
    # the refused one stays write-ahead "creating" (reconciled before it is sent again)
    assert jinhua["drafts"] == {"creating": 1, "pending": 2}

    cli(config, "sync")
    assert len(server.hits("/hook")) == 1  # same credentials: not tried again

    answer["status"] = 204
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + base64.b64encode(b"new-secret").decode())
    r = cli(config, "sync")
    assert "3 created" in r.output, r.output
    assert len(server.hits("/hook")) == 4
    assert json.loads(cli(config, "status", "--json").output)["targets"][1]["healthy"]
