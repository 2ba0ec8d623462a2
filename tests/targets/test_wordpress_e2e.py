"""The whole pipeline (real CLI, SQLite, generated Argos packages, feed on loopback)
pushing into the real WordPress on 127.0.0.1.

A forwarding proxy (a fake of the network, not of syncd) stands between syncd and
WordPress so that a test can kill syncd right after WordPress accepted a create.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from click.testing import CliRunner, Result

from syncd.cli import main
from tests.support.configs import feed_source, write_config
from tests.support.feeds import Entry, rss
from tests.support.loopback import LoopbackServer, Reply

pytestmark = [pytest.mark.wordpress, pytest.mark.slow]

ITEM = Entry("news-1", "Hallo Welt.", "<p>Hallo Welt.</p>", "https://www.dueren.de/news/1")
PASSWORD_VAR = "SYNCD_E2E_WP_PASSWORD"


class KillingProxy:
    """Forwards every request to WordPress; once armed, SIGKILLs ``victim`` as soon as
    WordPress has answered 201 to a post create, before syncd can see the answer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.victim: subprocess.Popen[bytes] | None = None
        self.created: list[int] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length")
                }
                with httpx.Client(trust_env=False, timeout=30) as c:
                    r = c.request(
                        self.command, outer.upstream + self.path, headers=headers, content=body
                    )
                if (
                    self.command == "POST"
                    and r.status_code == 201
                    and unquote(self.path).endswith("=/wp/v2/posts")
                ):
                    outer.created.append(r.json()["id"])
                    if outer.victim is not None:
                        outer.victim.send_signal(signal.SIGKILL)
                        outer.victim.wait(10)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "content-encoding",
                        "connection",
                    ):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(r.content)

            do_GET = do_POST = do_DELETE = _forward

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy(wp: Any) -> Iterator[KillingProxy]:
    p = KillingProxy(wp.url)
    yield p
    p.close()


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


@pytest.fixture
def trial(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path, wp: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Path]:  # fmt: skip
    """Makes the config: Düren's feed on loopback → Jinhua's WordPress at ``url`` as ``user``."""

    def make(url: str | None = None, user: str = "bot") -> Path:
        config = write_config(tmp_path, feed_source("dueren-news", f"{server.url}/de.xml"), "")
        creds = wp.credentials(user)
        target = (
            f'target = {{ kind = "wordpress", url = "{url or wp.url}", user = "{creds.user}", '
            f'password = {{ env = "{PASSWORD_VAR}" }}, timeout = "20s" }}'
        )
        text = config.read_text(encoding="utf-8").replace(
            'target = { kind = "outbox", path = "drafts/jinhua" }', target
        )
        config.write_text(text, "utf-8")
        monkeypatch.setenv(PASSWORD_VAR, creds.password)
        r = cli(config, "models", "install", "--file", str(argos_package_dir))
        assert r.exit_code == 0, r.output
        return config

    return make


def serve(server: LoopbackServer, entries: list[Entry]) -> list[Entry]:
    server.routes["/de.xml"] = lambda req: Reply(
        200, rss(entries), {"Content-Type": "application/rss+xml"}
    )
    return entries


def sync(config: Path) -> str:
    r = cli(config, "sync")
    assert r.exit_code == 0, r.output
    return r.output


def jinhua_drafts(config: Path) -> dict[str, int]:
    status = json.loads(cli(config, "status", "--json").output)
    (target,) = [t for t in status["targets"] if t.get("city", t.get("id")) == "jinhua"] or [
        status["targets"][1]
    ]
    return target["drafts"]  # type: ignore[no-any-return]


def test_killed_right_after_wordpress_accepted_the_create_the_next_run_adopts_it(
    trial: Callable[..., Path], server: LoopbackServer, wp: Any, proxy: KillingProxy
) -> None:
    config = trial(proxy.url)
    serve(server, [ITEM])
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd.cli", "--config", str(config), "sync"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    proxy.victim = proc
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, (out + err).decode()[-3000:]
    assert len(proxy.created) == 1  # WordPress has the post; syncd never heard of it
    proxy.victim = None
    out = sync(config)
    assert "1 adopted" in out and "0 created" in out
    posts = wp.list_posts()
    assert [p["id"] for p in posts] == proxy.created
    assert posts[0]["status"] == "draft" and posts[0]["slug"].startswith("syncd-")
    assert jinhua_drafts(config) == {"pushed": 1}


def test_editor_edits_as_another_user_then_the_source_changes_the_editors_text_stays(
    trial: Callable[..., Path], server: LoopbackServer, wp: Any
) -> None:
    config = trial()
    entries = serve(server, [ITEM])
    assert "1 created" in sync(config)
    (post,) = wp.list_posts()
    time.sleep(1.1)  # modified_gmt has one-second resolution
    wp.editor_edit(post["id"], content="<p>编辑部的文字。</p>")
    entries[0] = Entry(ITEM.guid, "Hallo Welt.", "<p>Hallo Welt.</p><p>Welt.</p>", ITEM.link)
    out = sync(config)
    assert "0 updated" in out
    (after,) = wp.list_posts()
    assert after["content"]["raw"] == "<p>编辑部的文字。</p>"
    status = json.loads(cli(config, "status", "--json").output)
    (note,) = status["changed_after_review"]
    assert note["state"] == "edited" and "source updated after review" in note["note"]
    sync(config)  # and it stays that way
    assert wp.list_posts()[0]["content"]["raw"] == "<p>编辑部的文字。</p>"


def test_untouched_draft_is_updated_when_the_source_changes(
    trial: Callable[..., Path], server: LoopbackServer, wp: Any
) -> None:
    config = trial()
    entries = serve(server, [ITEM])
    sync(config)
    time.sleep(1.1)
    entries[0] = Entry(ITEM.guid, "Hallo Welt.", "<p>Hallo Welt.</p><p>Welt.</p>", ITEM.link)
    assert "1 updated" in sync(config)
    (post,) = wp.list_posts()
    assert post["status"] == "draft" and "<p>世界。</p>" in post["content"]["raw"]


def test_editor_deletes_the_draft_it_is_not_created_again(
    trial: Callable[..., Path], server: LoopbackServer, wp: Any
) -> None:
    config = trial()
    entries = serve(server, [ITEM])
    sync(config)
    (post,) = wp.list_posts()
    assert wp.delete(post["id"]).status_code == 200
    entries[0] = Entry(ITEM.guid, "Welt.", "<p>Welt.</p>", ITEM.link)
    sync(config)
    sync(config)
    assert wp.list_posts() == []
    assert jinhua_drafts(config) == {"rejected": 1}


def test_script_and_onerror_in_the_source_never_reach_wordpress(
    trial: Callable[..., Path], server: LoopbackServer, wp: Any
) -> None:
    # as admin, who has unfiltered_html: WordPress keeps whatever it is sent
    config = trial(user="admin")
    body = (
        "<p>Hallo Welt.<script>alert(1)</script></p>"
        '<img src="https://x.example/a.png" onerror="alert(2)">'
    )
    serve(server, [Entry("evil", "Hallo Welt.", body, "https://www.dueren.de/evil")])
    sync(config)
    (post,) = wp.list_posts()
    raw = post["content"]["raw"].lower()
    assert "世界" in raw
    for mark in ("<script", "onerror", "alert("):
        assert mark not in raw


def _three(server: LoopbackServer) -> list[Entry]:
    return serve(
        server,
        [
            Entry(
                f"news-{n}",
                "Hallo Welt.",
                f"<p>Hallo Welt.</p><p>{n}</p>",
                f"https://www.dueren.de/news/{n}",
            )
            for n in (1, 2, 3)
        ],
    )


def _state_files(config: Path) -> list[Path]:
    state = config.parent / "state"
    return [state / f"syncd.db{suffix}" for suffix in ("", "-wal", "-shm")]


def test_lost_state_never_duplicates_and_keeps_what_editors_did(
    trial: Callable[..., Path], server: LoopbackServer, wp: Any
) -> None:
    config = trial()
    _three(server)
    assert "3 created" in sync(config)
    posts = sorted(wp.list_posts(), key=lambda p: p["id"])
    trashed, published, untouched = (p["id"] for p in posts)
    wp.editor_trash(trashed)
    wp.editor_edit(published, status="publish")
    for f in _state_files(config):  # the state database is lost
        f.unlink(missing_ok=True)
    out = sync(config)
    assert "0 created" in out and "3 adopted" in out, out
    sync(config)
    after = {p["id"]: p["status"] for p in wp.list_posts()}
    assert after == {trashed: "trash", published: "publish", untouched: "draft"}
    assert jinhua_drafts(config) == {"rejected": 1, "published": 1, "pushed": 1}


def test_an_old_backup_restored_never_duplicates(
    trial: Callable[..., Path], server: LoopbackServer, wp: Any
) -> None:
    import shutil

    config = trial()
    entries = _three(server)
    del entries[2]  # the third item appears after the backup
    assert "2 created" in sync(config)
    backup = config.parent / "backup"
    backup.mkdir()
    for f in _state_files(config):
        if f.exists():
            shutil.copy2(f, backup / f.name)
    _three(server)
    assert "1 created" in sync(config)
    first = min(p["id"] for p in wp.list_posts())
    wp.editor_trash(first)
    for f in _state_files(config):  # restore the old backup
        f.unlink(missing_ok=True)
        if (backup / f.name).exists():
            shutil.copy2(backup / f.name, f)
    out = sync(config)
    assert "0 created" in out and "1 adopted" in out, out
    sync(config)
    assert len(wp.list_posts()) == 3
    assert wp.get_post(first).json()["status"] == "trash"
