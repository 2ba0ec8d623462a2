"""End to end through the real CLI, store and (generated) Argos models: the page kinds
and the inbound endpoint deliver drafts into the partner's outbox, while broken
sources raise the right alert and the others keep syncing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syncd import config as cfgmod
from syncd.kinds import TABLE
from syncd.store import Store
from tests.sources.sites import (
    DUEREN_LIST,
    DUEREN_OPTIONS,
    JINHUA_COL,
    JINHUA_OPTIONS,
    dueren_site,
    html,
    jinhua_site,
    read,
)
from tests.support.cli import cli, drafts, install_models
from tests.support.configs import write_config
from tests.support.feeds import Entry, rss
from tests.support.frontdoor import FrontDoor
from tests.support.loopback import LoopbackServer, Reply


def now() -> datetime:
    return datetime.now(UTC)


def inline(table: dict[str, Any]) -> str:
    """A TOML inline table (JSON strings, numbers and arrays are valid TOML)."""
    return (
        "{ "
        + ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in table.items())
        + " }"
    )


def page_source(source_id: str, kind: str, url: str, **options: Any) -> str:
    return inline(
        {"id": source_id, "kind": kind, "url": url, "interval": "15m", "jitter": 0.0, **options}
    )


def serve_broken_sites(server: LoopbackServer) -> None:
    relaunched = read("dueren/list.html").replace("news-list-view", "nachrichten-liste")
    server.routes["/relaunch"] = html(relaunched)
    server.routes["/col/col666/index.html"] = lambda req: Reply(
        412, b"<script>var $_ts={};</script>"
    )
    server.routes["/col/col999/index.html"] = lambda req: Reply(
        200, b"<html><body>" + bytes(range(0x80, 0x100)) * 40, {"Content-Type": "text/html"}
    )
    # declares UTF-8 in the header, is GBK: read right, with a note
    col = (
        read("jinhua/col.html")
        .replace("col1229160587", "col2")
        .replace("art_1229160587_", "art_2_")
    )
    server.routes["/col/col2/index.html"] = html(col)
    wrong = (
        read("jinhua/art_60291234.html").replace("charset=utf-8", "charset=gbk").encode("gb18030")
    )
    for day, art in ((22, 60291234), (21, 60291200)):
        server.routes[f"/art/2024/3/{day}/art_2_{art}.html"] = lambda req, body=wrong: Reply(
            200, body, {"Content-Type": "text/html; charset=utf-8"}
        )


@pytest.fixture
def pages_config(tmp_path: Path, server: LoopbackServer, argos_package_dir: Path) -> Path:
    u = server.url
    dueren = ", ".join(
        [
            page_source("dueren-presse", "html", u + DUEREN_LIST, **DUEREN_OPTIONS),
            page_source("dueren-relaunch", "html", u + "/relaunch", **DUEREN_OPTIONS),
        ]
    )
    jinhua = ", ".join(
        [
            page_source("jinhua-news", "jpage", u + JINHUA_COL, **JINHUA_OPTIONS),
            page_source("jinhua-wall", "jpage", u + "/col/col666/index.html"),
            page_source("jinhua-garbled", "jpage", u + "/col/col999/index.html"),
            page_source("jinhua-charset", "jpage", u + "/col/col2/index.html", pages=1, per_page=2),
        ]
    )
    config = write_config(tmp_path, dueren, jinhua)
    install_models(config, argos_package_dir)
    return config


def test_pages_to_the_partners_outbox_and_broken_sources_alert(
    pages_config: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    jinhua_site(server)
    serve_broken_sites(server)
    r = cli(pages_config, "sync")
    assert r.exit_code == 3, r.output  # some sources failed …
    lines = {line.split(":")[0].split()[-1]: line for line in r.output.splitlines() if ":" in line}
    for ok in ("dueren-presse", "jinhua-news", "jinhua-charset"):  # … the others went on
        assert lines[ok].startswith("ok"), r.output
    for bad in ("dueren-relaunch", "jinhua-wall", "jinhua-garbled"):
        assert lines[bad].startswith("FAIL"), r.output

    to_jinhua = drafts(pages_config, "jinhua")
    assert sorted(str(d["original_title"]) for d in to_jinhua.values()) == [
        "Haushalt 2024 beschlossen",
        "Kurz notiert: Straßensperrung",
        "Neue Radwege in der Innenstadt",
        "Stadtbibliothek verlängert Öffnungszeiten",
    ]
    assert all(
        d["source_city"] == "dueren" and d["target_language"] == "zh" for d in to_jinhua.values()
    )
    to_dueren = drafts(pages_config, "dueren")
    titles = sorted(str(d["original_title"]) for d in to_dueren.values())
    # once from jinhua-news, twice from jinhua-charset (both its articles are that page)
    assert titles.count("金华市召开2024年一季度经济形势分析会") == 3
    assert "我市多所学校开展春季研学活动" in titles  # the GBK-declared page, via dataproxy
    assert len(to_dueren) == 6
    keys = {str(d["source_key"]) for d in to_dueren.values()}
    assert f"{server.url}/art/2024/3/21/art_1229160587_60291200.html" in keys  # no ?spm=

    status = cli(pages_config, "status").output
    assert (
        'ALERT: layout changed: list selector matched 0 items (item = ".news-list-view .article")'
        in status
    )
    assert "ALERT: interactive verification required; not bypassed (HTTP 412 challenge)" in status
    assert "ALERT: garbled text: no charset decodes the page cleanly" in status
    assert "note: charset: the header declares 'utf-8', which does not fit the bytes" in status
    # the wrong declaration is an alert for a human, while the source kept working
    charset = next(
        s
        for s in json.loads(cli(pages_config, "status", "--json").output)["sources"]
        if s["id"] == "jinhua-charset"
    )
    assert charset["result"] == "ok"
    assert charset["alert"].startswith(
        "charset: the header declares 'utf-8', which does not fit the bytes"
    )

    # a second pass makes no second draft
    cli(pages_config, "sync")
    assert len(drafts(pages_config, "jinhua")) == 4 and len(drafts(pages_config, "dueren")) == 6


def test_sources_test_prints_what_would_be_extracted(
    pages_config: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    r = cli(pages_config, "sources", "test", "dueren-presse")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("4 items")
    assert "flags=generic-extractor" in r.output and "flags=tiny-body" in r.output
    assert "warning: body selector matched nothing" in r.output
    assert drafts(pages_config, "jinhua") == {}  # nothing recorded, nothing pushed


def _push(
    port: int,
    path: str,
    key: bytes,
    msg_id: str,
    doc: Any,
    *,
    ts: int | None = None,
    tamper: bool = False,
) -> int:
    body = json.dumps(doc, ensure_ascii=False).encode()
    stamp = ts if ts is not None else int(time.time())
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    sent = body.replace("金华".encode(), "伪造".encode()) if tamper else body
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", path, body=sent, headers={
            "webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        })  # fmt: skip
        return conn.getresponse().status
    finally:
        conn.close()


def test_inbound_push_becomes_a_draft_and_bad_pushes_are_counted(
    tmp_path: Path, argos_package_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = b"0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("JINHUA_PUSH", "whsec_" + base64.b64encode(key).decode())
    push = '{ id = "jinhua-push", kind = "inbound", interval = "1m", secret = { env = "JINHUA_PUSH" } }'
    config = write_config(tmp_path, "", push, extra='[web]\nlisten = "127.0.0.1:0"')
    install_models(config, argos_package_dir)
    cfg = cfgmod.load(config, kinds=TABLE)
    store = Store(cfg.storage_url())
    server = FrontDoor(cfg, store, now)
    server.start()
    item = {
        "key": "jh-1",
        "title": "金华新闻",
        "body_html": "<p>你好世界。</p>",
        "url": "https://www.jinhua.gov.cn/art/1.html",
    }
    try:
        path = "/inbound/jinhua-push"
        assert _push(server.port, path, key, "msg-1", item) == 202
        assert _push(server.port, path, key, "msg-1", item) == 200  # replayed: not queued again
        assert _push(server.port, path, key, "msg-2", item, tamper=True) == 401
        assert _push(server.port, path, key, "msg-3", item, ts=int(time.time()) - 3600) == 401
    finally:
        server.stop()
        store.close()
    r = cli(config, "sync")
    assert r.exit_code == 0, r.output
    (draft,) = drafts(config, "dueren").values()
    assert draft["original_title"] == "金华新闻" and draft["source_key"] == "jh-1"
    assert draft["source_url"] == "https://www.jinhua.gov.cn/art/1.html"
    status = cli(config, "status").output
    for counter in ("inbound-accepted=1", "inbound-refused-replayed=1", "inbound-refused-signature=1",
                    "inbound-refused-stale=1"):  # fmt: skip
        assert counter in status, status
    cli(config, "sync")  # consumed: no second draft
    assert len(drafts(config, "dueren")) == 1


def test_a_second_sync_in_a_new_process_fetches_no_unchanged_article(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path
) -> None:
    dueren_site(server)
    jinhua_site(server)
    u = server.url
    config = write_config(
        tmp_path,
        page_source("dueren-presse", "html", u + DUEREN_LIST, **DUEREN_OPTIONS),
        page_source("jinhua-news", "jpage", u + JINHUA_COL, **JINHUA_OPTIONS),
    )
    install_models(config, argos_package_dir)
    assert cli(config, "sync").exit_code == 0
    articles = [r for r in server.requests if "/detail/" in r.path or "/art/" in r.path]
    assert len(articles) == 8  # every article once
    server.requests.clear()

    r = cli(config, "sync")  # cron: a new process, the same state
    assert r.exit_code == 0, r.output
    asked = sorted({req.path.split("?")[0] for req in server.requests})
    assert asked == sorted(
        [DUEREN_LIST, DUEREN_LIST + "/seite-2", JINHUA_COL, "/module/jpage/dataproxy.jsp"]
    )  # the lists only: no article again
    assert "0 new, 0 changed" in r.output
    assert len(drafts(config, "jinhua")) == 4 and len(drafts(config, "dueren")) == 4


def test_sources_test_shows_date_sources_holders_and_first_activation(
    tmp_path: Path, server: LoopbackServer, argos_package_dir: Path
) -> None:
    dueren_site(server)
    detail = server.url + "/verwaltung-politik/pressemitteilungen/detail/"
    feed = [
        Entry("news-1", "Haushalt 2024 beschlossen", "<p>Kurz.</p>", detail + "haushalt-2024",
              "Fri, 15 Mar 2024 16:45:00 +0100", ["Finanzen"]),
        Entry("news-2", "Nur im Feed", "<p>Nur hier.</p>", server.url + "/nur-im-feed",
              "Fri, 22 Mar 2024 09:00:00 +0100"),
    ]  # fmt: skip
    server.routes["/news.xml"] = lambda req: Reply(
        200, rss(feed), {"Content-Type": "application/rss+xml"}
    )
    u = server.url
    config = write_config(
        tmp_path,
        ", ".join([
            page_source("dueren-presse", "html", u + DUEREN_LIST, **DUEREN_OPTIONS),
            inline({"id": "dueren-feed", "kind": "feed", "url": u + "/news.xml",
                    "interval": "15m", "enabled": False}),
        ]),
        "",
        extra="first_run_max_items = 1",
    )  # fmt: skip
    install_models(config, argos_package_dir)
    assert cli(config, "sync").exit_code == 0  # the press page holds its four articles

    r = cli(config, "sources", "test", "dueren-presse")
    assert r.exit_code == 0, r.output
    assert "date: 2024-03-22T08:30:00+00:00 (from meta:article:published_time)" in r.output
    assert "date: 2024-03-21T10:15:00+00:00 (from page text)" in r.output
    assert "held by" not in r.output and "first activation" not in r.output  # activated

    r = cli(config, "sources", "test", "dueren-feed")
    assert r.exit_code == 0, r.output
    held = f"held by: dueren-presse ({detail}haushalt-2024) (this one would enrich it)"
    assert held in r.output
    assert "date: 2024-03-15T15:45:00+00:00 (from feed <published>)" in r.output
    assert "categories: Finanzen" in r.output
    # never activated: its first poll would take the newest one only
    assert "first activation skips it: first activation: beyond the newest 1" in r.output
