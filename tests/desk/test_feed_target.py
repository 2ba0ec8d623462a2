"""``kind = "feed"``: approved translations as an Atom feed on the front door, behind a
token, that a CMS's feed importer reads; the marker travels, so syncd recognises its
own entries when the partner republishes them (echo suppression)."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from syncd.config import Duration, HttpConfig
from syncd.review import Decision
from syncd.sources import SourceState
from syncd.sources.feed import FeedSource
from syncd.web.desk import service
from tests.sources.sites import client, load, source
from tests.support.desk import DeskClient, add_editor, desk_pipeline
from tests.support.feeds import Entry
from tests.support.pipeline import DUEREN_FEED, ROUTES
from tests.support.translator import FakeTranslator

DE = Entry("news-1", "Hallo Welt.", "<p>Hallo Welt. Düren hat 90000 Einwohner.</p>",
           "https://www.dueren.example/news/1")  # fmt: skip
TOKEN = "feed-token-for-the-importer"


def test_approved_drafts_become_entries_of_a_token_protected_atom_feed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_TEST_FEED_TOKEN", TOKEN)
    target = {"kind": "feed", "path": "feed/jinhua", "token": {"env": "SYNCD_TEST_FEED_TOKEN"}}
    pipe = desk_pipeline(
        tmp_path, translator=FakeTranslator(ROUTES, segmented=True), jinhua_target=target
    )
    web = DeskClient(pipe)
    try:
        pipe.feeds.entries[DUEREN_FEED] = [DE]
        pipe.sync()
        assert web.get(f"/feed/jinhua.atom?token={TOKEN}").text.count("<entry") == 0
        editor = add_editor(pipe.store, "li", "jinhua", "zh")
        iid = next(i.id for d, i in pipe.store.deliveries() if d.target_city == "jinhua")
        assert service.save_edits(pipe.app, editor, iid, 1, {"body:1": "迪伦有九万居民。"}) is None
        assert service.decide(pipe.app, editor, iid, 1, Decision.APPROVE) is None
        assert pipe.sync().created == 1
        assert pipe.sync().created == 0  # once

        assert web.get("/feed/jinhua.atom").status_code == 404
        assert web.get("/feed/jinhua.atom?token=wrong").status_code == 404
        r = web.get(f"/feed/jinhua.atom?token={TOKEN}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
        parsed = feedparser.parse(r.content)
        assert not parsed.bozo and parsed.version == "atom10"
        (entry,) = parsed.entries
        marker = pipe.delivery("news-1", "jinhua").remote_id
        assert entry.id == f"urn:syncd:{marker}" and entry.title == "[zh] Hallo Welt."
        body = entry.content[0].value
        assert "迪伦有九万居民。" in body and f"syncd:{marker}" in body
        assert TOKEN not in r.text  # the self link leaves the token out

        # the partner republishes the feed: syncd's feed source sees its own marker
        url = f"http://127.0.0.1:{web.server.port}/feed/jinhua.atom?token={TOKEN}"
        cfg = load(tmp_path / "echo", ("dueren", {"id": "echo", "kind": "feed", "url": url}))
        (tmp_path / "echo").mkdir(exist_ok=True)
        src_cfg, city = source(cfg, "echo")
        http = client(HttpConfig(allow_private=True, host_delay=Duration(0), respect_robots=False,
                                 timeout=Duration(seconds=5)))  # fmt: skip
        (item,) = FeedSource(src_cfg, city, http).fetch(SourceState()).items
        assert item.echo_marker == marker
    finally:
        web.close()
        pipe.close()


def test_the_feed_reads_only_its_newest_entries_however_many_there_are(tmp_path: Path) -> None:
    """A feed is served from the newest files only: after years of drafts a request
    reads ``limit`` of them; files the importer cannot parse are left out."""
    import json
    import os

    from syncd.targets.feed import read_entries

    for n in range(50):
        f = tmp_path / f"syncd-{n:016x}.json"
        f.write_text(json.dumps({"marker": f"{n:016x}", "updated": f"2026-11-{n % 28 + 1:02d}"}))
        os.utime(f, (1_000_000 + n, 1_000_000 + n))
    (tmp_path / f"syncd-{99:016x}.json").write_text("{not json")  # newest, broken
    os.utime(tmp_path / f"syncd-{99:016x}.json", (2_000_000, 2_000_000))
    entries = read_entries(tmp_path, 3)
    assert sorted(e["marker"] for e in entries) == [f"{n:016x}" for n in (47, 48, 49)]
    assert [e["updated"] for e in entries] == sorted((e["updated"] for e in entries), reverse=True)
