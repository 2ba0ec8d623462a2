"""Drafts and cities for target tests. Contains no business logic."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from syncd.config import CityConfig, TargetConfig
from syncd.models import Draft, Image, QualityFlag, content_hash

HOSTILE_BODY = (
    '<p onclick="steal()">Hallo<script>alert("x")</script></p>'
    '<img src="https://example.org/a.png" onerror="alert(1)">'
    '<a href="javascript:alert(2)">link</a><iframe src="https://evil.example/"></iframe>'
)
HOSTILE_MARKS = ("<script", "onerror", "onclick", "javascript:", "<iframe", "alert(")


def city(kind: str, options: Any, city_id: str = "jinhua") -> CityConfig:
    return CityConfig(
        id=city_id,
        name="Jinhua",
        language="zh",
        timezone="Asia/Shanghai",
        sources=(),
        target=TargetConfig(kind=kind, options=options),
        names={"zh": "金华"},
    )


def draft(marker: str = "0123456789abcdef", version: int = 1, **fields: Any) -> Draft:
    """A translated draft as ``syncd.draft.build_draft`` makes one (attribution included)."""
    title = fields.pop("title", f"标题 v{version}")
    body = fields.pop("body", f"<p>正文 第{version}版。</p>")
    attribution = (
        '<p class="syncd-attribution">本文由德语机器翻译。来源：迪伦，'
        f'<a href="https://dueren.example/n/1">原文</a>。(syncd:{marker})</p>'
    )
    base = Draft(
        marker=marker,
        source_id="dueren-news",
        source_key="https://dueren.example/n/1",
        source_url="https://dueren.example/n/1",
        source_city="dueren",
        source_city_name="Düren",
        target_city="jinhua",
        source_language="de",
        target_language="zh",
        original_title=f"Titel v{version}",
        title=title,
        summary=fields.pop("summary", "摘要"),
        body_html=body + attribution,
        attribution_html=attribution,
        content_hash=content_hash(f"Titel v{version}", "", body, ()),
        version=version,
        published=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
        categories=("Rathaus",),
        pivot={"title": f"Title v{version}", "summary": "", "body_html": "<p>Body</p>"},
        flags=(QualityFlag(kind="numbers", sentence=0, detail="2026 vs 2025"),),
        packages=("translate-de_en@1.0", "translate-en_zh@1.0"),
        original_body_html=f"<p>Text Version {version}.</p>",
    )
    return replace(base, **fields)


def with_image(d: Draft, url: str, title: str = "Rathaus") -> Draft:
    return replace(d, images=(Image(url=url, mime="image/png", title=title),))
