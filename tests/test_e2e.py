"""End to end, both directions, through the real CLI, real SQLite, real (generated)
Argos packages installed with `syncd models install`, and feeds on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import DE_ITEM, ZH_ITEM, cli, drafts, install_models, serve_feeds
from tests.support.configs import feed_source, write_config
from tests.support.feeds import Entry, rss
from tests.support.loopback import LoopbackServer, Reply


@pytest.fixture
def two_cities(tmp_path: Path, server: LoopbackServer, argos_package_dir: Path) -> Path:
    config = write_config(
        tmp_path,
        feed_source("dueren-news", f"{server.url}/de.xml"),
        feed_source("jinhua-news", f"{server.url}/zh.xml"),
        extra="first_run_max_items = 100",
    )
    install_models(config, argos_package_dir)
    return config


def test_both_directions_with_attribution_and_no_second_draft(
    two_cities: Path, server: LoopbackServer
) -> None:
    serve_feeds(server, [DE_ITEM], [ZH_ITEM])
    r = cli(two_cities, "sync")
    assert r.exit_code == 0, r.output
    assert "ok    dueren-news" in r.output and "ok    jinhua-news" in r.output

    (zh,) = drafts(two_cities, "jinhua").values()
    assert zh["title"] == "你好世界。"
    assert zh["original_title"] == "Hallo Welt."
    assert zh["source_url"] == DE_ITEM.link and zh["source_key"] == "news-1"
    assert (zh["source_city"], zh["target_city"]) == ("dueren", "jinhua")
    assert (zh["source_language"], zh["target_language"]) == ("de", "zh")
    assert zh["pivot"]["title"] == "Hello world."  # type: ignore[index]
    for key in ("content_hash", "created_at", "updated_at"):
        assert zh[key]
    html = str(zh["_html"])
    assert "<p>你好世界。</p>" in html
    assert "本文由德语机器翻译" in html and "迪伦" in html and f'href="{DE_ITEM.link}"' in html
    assert "syncd:" in html

    (de,) = drafts(two_cities, "dueren").values()
    assert de["title"] == "Hallo Welt." and de["original_title"] == "你好世界。"
    assert "Maschinell übersetzt aus dem Chinesischen" in str(de["_html"]) and "Jinhua" in str(
        de["_html"]
    )

    before = {p: p.stat().st_mtime_ns for p in (two_cities.parent / "drafts").rglob("*")}
    r = cli(two_cities, "sync")
    assert r.exit_code == 0 and "0 created" in r.output
    after = {p: p.stat().st_mtime_ns for p in (two_cities.parent / "drafts").rglob("*")}
    assert before == after


def test_changed_item_updates_untouched_draft_but_never_an_edited_one(
    two_cities: Path, server: LoopbackServer
) -> None:
    a = Entry("a", "Hallo Welt.", "<p>Hallo Welt.</p>", "https://www.dueren.de/a")
    b = Entry("b", "Welt.", "<p>Welt.</p>", "https://www.dueren.de/b")
    de, _ = serve_feeds(server, [a, b], [])
    assert cli(two_cities, "sync").exit_code == 0
    docs = drafts(two_cities, "jinhua")
    assert len(docs) == 2
    stem_a = next(k for k, d in docs.items() if d["source_key"] == "a")
    stem_b = next(k for k, d in docs.items() if d["source_key"] == "b")
    # an editor edits b's draft
    edited = two_cities.parent / "drafts" / "jinhua" / f"{stem_b}.html"
    edited.write_text(
        edited.read_text(encoding="utf-8").replace("世界", "世界（编辑改过）"), encoding="utf-8"
    )
    editor_text = edited.read_text(encoding="utf-8")
    # both source items change
    de[0] = Entry("a", "Hallo Welt.", "<p>Hallo Welt.</p><p>Welt.</p>", a.link)
    de[1] = Entry("b", "Hallo Welt.", "<p>Hallo.</p>", b.link)
    r = cli(two_cities, "sync")
    assert r.exit_code == 0, r.output
    assert "1 updated" in r.output and "1 left to editors" in r.output
    docs = drafts(two_cities, "jinhua")
    assert "<p>世界。</p>" in str(docs[stem_a]["_html"]) and docs[stem_a]["version"] == 2
    assert edited.read_text(encoding="utf-8") == editor_text
    status = json.loads(cli(two_cities, "status", "--json").output)
    (note,) = status["changed_after_review"]
    assert (
        note["item"] == "b"
        and note["state"] == "edited"
        and "source updated after review" in note["note"]
    )
    # and it stays that way
    assert cli(two_cities, "sync").exit_code == 0
    assert edited.read_text(encoding="utf-8") == editor_text


def test_deleted_draft_is_never_recreated(two_cities: Path, server: LoopbackServer) -> None:
    de, _ = serve_feeds(server, [DE_ITEM], [])
    assert cli(two_cities, "sync").exit_code == 0
    (stem,) = drafts(two_cities, "jinhua")
    for p in (two_cities.parent / "drafts" / "jinhua").glob(f"{stem}.*"):
        p.unlink()
    de[0] = Entry(DE_ITEM.guid, "Welt.", "<p>Welt.</p>", DE_ITEM.link)
    assert cli(two_cities, "sync").exit_code == 0
    assert cli(two_cities, "sync").exit_code == 0
    assert drafts(two_cities, "jinhua") == {}
    status = json.loads(cli(two_cities, "status", "--json").output)
    assert status["targets"][1]["drafts"] == {"rejected": 1}


def test_our_own_draft_coming_back_is_not_echoed(two_cities: Path, server: LoopbackServer) -> None:
    _, zh = serve_feeds(server, [DE_ITEM], [])
    assert cli(two_cities, "sync").exit_code == 0
    (draft,) = drafts(two_cities, "jinhua").values()
    # Jinhua's editors publish our draft; it appears in Jinhua's feed, body and all
    body = str(draft["_html"]).split("<article>")[1].split("</article>")[0]
    zh.append(
        Entry("jinhua-42", str(draft["title"]), body, "https://www.jinhua.gov.cn/art/42.html")
    )
    r = cli(two_cities, "sync")
    assert r.exit_code == 0, r.output
    assert drafts(two_cities, "dueren") == {}
    status = json.loads(cli(two_cities, "status", "--json").output)
    assert status["targets"][0]["drafts"] == {"skipped": 1}


def test_conditional_get_304_and_retry_after(two_cities: Path, server: LoopbackServer) -> None:
    body = rss([DE_ITEM])

    def de_feed(req: object) -> Reply:
        if req.headers.get("if-none-match") == '"e1"':  # type: ignore[attr-defined]
            return Reply(304, b"")
        return Reply(200, body, {"ETag": '"e1"', "Content-Type": "application/rss+xml"})

    server.routes["/de.xml"] = de_feed
    server.routes["/zh.xml"] = lambda req: Reply(429, b"", {"Retry-After": "7200"})
    r = cli(two_cities, "sync")
    assert r.exit_code == 3 and "FAIL  jinhua-news" in r.output and "Retry-After 7200s" in r.output
    r = cli(two_cities, "sync")
    assert "ok    dueren-news: not modified" in r.output
    assert server.hits("/de.xml")[-1].headers["if-none-match"] == '"e1"'
    status = json.loads(cli(two_cities, "status", "--json").output)
    jinhua = next(s for s in status["sources"] if s["id"] == "jinhua-news")
    from datetime import datetime

    nxt = datetime.fromisoformat(jinhua["next_poll"])
    last = datetime.fromisoformat(jinhua["last_poll"])
    assert (nxt - last).total_seconds() >= 7200 - 1


def test_faults_stay_local(tmp_path: Path, server: LoopbackServer, argos_package_dir: Path) -> None:
    huge = b"<rss>" + b" " * (11 * 2**20)
    server.routes["/de.xml"] = lambda req: Reply(
        200, rss([DE_ITEM]), {"Content-Type": "application/rss+xml"}
    )
    server.routes["/garbage.xml"] = lambda req: Reply(
        200, b"\x89PNG\r\n\x1a\n garbage", {"Content-Type": "image/png"}
    )
    server.routes["/huge.xml"] = lambda req: Reply(
        200, huge, {"Content-Type": "application/rss+xml"}
    )
    # UTF-8 bytes whose header says Latin-1: read as what they are, with a note
    server.routes["/latin1.xml"] = lambda req: Reply(
        200,
        rss([Entry("l1", "Düren Welt.", "<p>Düren Welt.</p>")]),
        {"Content-Type": "application/rss+xml; charset=iso-8859-1"},
    )
    server.routes["/noguid.xml"] = lambda req: Reply(
        200,
        rss([Entry("", "Welt.", "<p>Welt.</p>", link="https://www.dueren.de/w", pub=None)]).replace(
            b'<guid isPermaLink="false"></guid>', b""
        ),
        {"Content-Type": "application/rss+xml"},
    )
    down = "http://127.0.0.1:9/down.xml"
    config = write_config(
        tmp_path,
        ", ".join([
            feed_source("ok", f"{server.url}/de.xml"),
            feed_source("down", down),
            feed_source("garbage", f"{server.url}/garbage.xml"),
            feed_source("huge", f"{server.url}/huge.xml"),
            feed_source("latin1", f"{server.url}/latin1.xml"),
            feed_source("noguid", f"{server.url}/noguid.xml"),
        ]),
        "",
    )  # fmt: skip
    install_models(config, argos_package_dir)
    r = cli(config, "sync")
    assert r.exit_code == 3  # sources failed; every delivery went through
    for sid in ("down", "garbage", "huge"):
        assert f"FAIL  {sid}" in r.output
    for sid in ("ok", "latin1", "noguid"):
        assert f"ok    {sid}" in r.output
    titles = sorted(str(d["original_title"]) for d in drafts(config, "jinhua").values())
    assert titles == ["Düren Welt.", "Hallo Welt.", "Welt."]
    status = json.loads(cli(config, "status", "--json").output)
    errors = {s["id"]: s["last_error"] for s in status["sources"]}
    assert "network error" in errors["down"]
    assert "not a readable feed" in errors["garbage"] or "not a feed" in errors["garbage"]
    assert "too large" in errors["huge"]
    assert errors["ok"] is None and errors["noguid"] is None
    latin1 = next(s for s in status["sources"] if s["id"] == "latin1")
    assert any("iso-8859-1" in w for w in latin1["warnings"])
    assert latin1["result"] == "ok" and "iso-8859-1" in latin1["alert"]
    text = cli(config, "status").output
    assert "down (feed, dueren): error, 1 failures in a row" in text


def test_missing_models_are_named_then_used_once_installed(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path
) -> None:
    serve_feeds(server, [DE_ITEM], [])
    config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
    r = cli(config, "sync")
    assert r.exit_code == 4, r.output  # the source worked; the delivery waits for models
    assert "1 waiting for models" in r.output
    status = cli(config, "status").output
    assert "syncd models install de zh" in status
    check = cli(config, "check")
    assert check.exit_code == 6 and "syncd models install de zh" in check.output
    install_models(config, argos_package_dir)
    r = cli(config, "sync")
    assert "1 created" in r.output
    assert len(drafts(config, "jinhua")) == 1


def _spawn(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "syncd.cli", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_sigkill_mid_pass_then_rerun_yields_every_item_exactly_once(
    two_cities: Path, server: LoopbackServer
) -> None:
    n = 40
    entries = [
        Entry(f"k{i}", "Hallo Welt.", f"<p>Hallo Welt.</p><p>{i}</p>", f"https://www.dueren.de/{i}")
        for i in range(n)
    ]
    serve_feeds(server, entries, [])
    folder = two_cities.parent / "drafts" / "jinhua"
    kills = 0
    for wait_for in (1, 8, 20):
        proc = _spawn(two_cities, "sync")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if folder.exists() and len(list(folder.glob("*.json"))) >= wait_for:
                break
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate()
    assert kills >= 1
    r = cli(two_cities, "sync")
    assert r.exit_code == 0, r.output
    docs = drafts(two_cities, "jinhua")
    assert sorted(d["source_key"] for d in docs.values()) == sorted(e.guid for e in entries)
    assert not list(folder.glob(".*.tmp"))
    status = json.loads(cli(two_cities, "status", "--json").output)
    assert status["targets"][1]["drafts"] == {"pushed": n}


def test_daemon_stops_cleanly_on_sigterm(two_cities: Path, server: LoopbackServer) -> None:
    serve_feeds(server, [DE_ITEM], [ZH_ITEM])
    proc = _spawn(two_cities, "run")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(drafts(two_cities, "jinhua")) == 1 and len(drafts(two_cities, "dueren")) == 1:
                break
            time.sleep(0.1)
        assert len(drafts(two_cities, "jinhua")) == 1
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err.decode()
    log = err.decode()
    assert "stopping" in log and "stopped" in log
    # due times survived: the next poll is in the store, 15 minutes ahead
    status = json.loads(cli(two_cities, "status", "--json").output)
    assert all(s["next_poll"] for s in status["sources"])
