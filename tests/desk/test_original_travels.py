"""Promise 11, editors see both sides: the original's title, summary and sanitized body
travel in the outbox sidecar (readable UTF-8) and in the webhook payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from syncd.targets.webhook import document
from tests.support.desk import desk_pipeline
from tests.support.feeds import Entry
from tests.support.pipeline import JINHUA_FEED

ZH = Entry(
    "art-1",
    "你好世界。",
    "<p>你好世界。<script>alert(1)</script></p>",
    "https://www.jinhua.example/art/1.html",
    pub="Wed, 25 Nov 2026 10:00:00 +0800",
)


def test_the_original_is_in_the_outbox_sidecar_as_readable_utf8(tmp_path: Path) -> None:
    p = desk_pipeline(tmp_path, review="target")
    try:
        p.feeds.entries[JINHUA_FEED] = [ZH]
        assert p.sync().created == 1
        (sidecar,) = p.outbox("dueren")
        raw = sidecar.read_bytes()
        assert "你好世界。".encode() in raw and b"\\u4f60" not in raw
        doc = json.loads(raw)
        assert doc["original_title"] == "你好世界。"
        assert doc["original_body_html"] == "<p>你好世界。</p>"  # sanitized
        assert doc["original_summary"] == "你好世界。"  # the feed's description
        # the draft's own page is untouched by this: the translation only
        assert "<script" not in sidecar.with_suffix(".html").read_text(encoding="utf-8")
    finally:
        p.close()


def test_the_original_is_in_the_webhook_payload(tmp_path: Path) -> None:
    p = desk_pipeline(tmp_path, review="target")
    try:
        p.feeds.entries[JINHUA_FEED] = [ZH]
        p.sync()
        (d, item) = next((d, i) for d, i in p.store.deliveries() if d.target_city == "dueren")
        from syncd.draft import build_draft
        from syncd.models import marker_for

        t = p.store.translation(item.id, 1, "de")
        assert t is not None
        draft = build_draft(
            marker=marker_for(item.source_id, item.key, "dueren"),
            item=p.store.item_version(item.id),
            version=1,
            translation=t,
            source_city=p.config.city("jinhua"),
            target_city=p.config.city("dueren"),
        )
        doc = document(draft, "syncd.draft.created", "msg_1", datetime(2026, 1, 1, tzinfo=UTC))
        original = doc["data"]["original"]
        assert original == {
            "title": "你好世界。",
            "summary": "你好世界。",
            "body_html": "<p>你好世界。</p>",
        }
    finally:
        p.close()
