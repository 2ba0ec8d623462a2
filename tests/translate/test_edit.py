"""Sentence alignment for the desk: the engine's segments, and editors' edits put back
into the fields (``syncd.translate.edit``), on the generated Argos packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import ModelsConfig
from syncd.models import Translation
from syncd.translate import TranslationRequest
from syncd.translate import edit as ed
from syncd.translate.engine import ArgosEngine

BODY = (
    "<h2>Düren ist eine Stadt in Deutschland.</h2>\n<p>Hallo Welt. Düren hat 90000 Einwohner.</p>"
    '<ul><li>Frank besucht <a href="https://www.jinhua.example/">Jinhua</a>.</li></ul>'
)


@pytest.fixture(scope="module")
def translation(installed_models: Path) -> Translation:
    engine = ArgosEngine(installed_models, ModelsConfig(beam_size=2))
    try:
        (t,) = engine.translate(
            [TranslationRequest("r", "de", "zh", "Hallo Welt.", "Hallo Welt. Hallo Welt.", BODY)]
        )
    finally:
        engine.close()
    assert isinstance(t, Translation), t
    return t


def test_the_engine_aligns_every_sentence_with_its_pivot_and_block(
    translation: Translation,
) -> None:
    body = ed.field_segments(translation, "body")
    assert [(s.block, s.index, s.source) for s in body] == [
        (0, 0, "Düren ist eine Stadt in Deutschland."),
        (1, 1, "Hallo Welt."),
        (1, 2, "Düren hat 90000 Einwohner."),
        (2, 3, "Frank besucht Jinhua."),
    ]
    assert [s.target for s in body] == [
        "迪伦是一个城市在德国。",
        "你好世界。",
        "迪伦有 90000居民。",
        "Frank访问金华。",
    ]
    assert [s.pivot for s in body][:2] == ["Düren is a city in Germany.", "Hello world."]
    assert 'href="https://www.jinhua.example/"' in body[3].target_html
    assert [s.target for s in ed.field_segments(translation, "summary")] == ["你好世界。"] * 2
    assert ed.aligned(BODY, "de", translation)


def test_no_edits_give_the_translation_back_exactly(translation: Translation) -> None:
    assert ed.render(BODY, "de", translation, {}) == (
        translation.title,
        translation.summary,
        translation.body_html,
    )


def test_an_edited_sentence_replaces_only_itself_as_plain_text(translation: Translation) -> None:
    title, summary, body = ed.render(
        BODY,
        "de",
        translation,
        {"body:2": "迪伦有九万<b>居民</b>。", "summary:1": "大家好。", "title:*": " 新标题 "},
    )
    assert title == "新标题"
    assert summary == "你好世界。大家好。"
    assert "<p>你好世界。迪伦有九万居民。</p>" in body
    assert body.startswith("<h2>迪伦是一个城市在德国。</h2>")
    assert 'href="https://www.jinhua.example/"' in body  # the other sentences keep markup
    assert [
        (s.index, new)
        for s, new in ed.sentence_edits(
            translation, {"body:2": "迪伦有九万居民。", "body:1": "你好世界。"}
        )
    ] == [(2, "迪伦有九万居民。")]


def test_a_whole_body_edit_is_sanitized(translation: Translation) -> None:
    _t, _s, body = ed.render(
        BODY, "de", translation, {"body:*": "<p onclick='x()'>全文</p><script>alert(1)</script>"}
    )
    assert body == "<p>全文</p>"


def test_a_body_whose_structure_no_longer_matches_takes_only_whole_edits(
    translation: Translation,
) -> None:
    other = "<p>Ein ganz anderer Text.</p>"
    assert not ed.aligned(other, "de", translation)
    with pytest.raises(ValueError, match="sentence by sentence"):
        ed.render(other, "de", translation, {"body:0": "x"})
