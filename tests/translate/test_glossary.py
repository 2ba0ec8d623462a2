"""glossary: the file format, masking terms and tokens, restoring them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.errors import ConfigError
from syncd.translate import glossary as gl

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def glossary() -> gl.Glossary:
    return gl.load(REPO / "config" / "glossary.toml")


def test_the_example_glossary_has_the_partner_terms(glossary: gl.Glossary) -> None:
    owners = glossary.owners("de", "zh")
    assert owners["Düren"].form("zh") == "迪伦"
    assert owners["Jinhua"].form("zh") == "金华"
    assert owners["Bürgermeister"].form("zh") == "市长"
    assert owners["Partnerstadt"].form("zh") == "友好城市"
    assert owners["Oberbürgermeister"].form("en") == "Lord Mayor"
    assert owners["Leopold-Hoesch-Museum"].form("zh") == "Leopold-Hoesch-Museum"
    assert owners["Frank Peter Ullrich"].keep
    assert glossary.owners("zh", "de")["市长"].form("de") == "Bürgermeister"  # first term wins


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[term]\nde = 1", "term", "expected [[term]] tables"),
        ("[[term]]\nde = 'Düren'", "term[0]", "at least two languages"),
        ("[[term]]\nde = 'Düren'\nfr = 'Duren'", "term[0].fr", "unknown key"),
        ("[[term]]\nde = 'A'\nzh = ''", "term[0].zh", "non-empty string"),
        ("[[term]]\nde = 'A'\nzh = 'B'\ninflect = 'yes'", "term[0].inflect", "true or false"),
        ("keep = 'Düren'", "keep", "list of strings"),
        ("keep = ['⟦1⟧']", "keep[0]", "reserved"),
        ("colour = 1", "colour", "unknown key"),
        ("[[term]\n", "", "not valid TOML"),
    ],
)
def test_a_bad_glossary_names_file_key_and_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = tmp_path / "glossary.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        gl.load(path)
    assert info.value.key == key and reason in info.value.reason and info.value.path == str(path)


def test_terms_match_inflected_german_forms_longest_first(glossary: gl.Glossary) -> None:
    m = gl.mask(
        "Der Besuch des Bürgermeisters Dürens im Leopold-Hoesch-Museum.", "de", "zh", glossary
    )
    assert m.text == "Der Besuch des ⟦1⟧ ⟦2⟧ im ⟦3⟧."
    assert [gl.render(t, "zh") for t in m.tokens] == ["市长", "迪伦", "Leopold-Hoesch-Museum"]
    assert gl.mask("Die Dürenerin und Bürgermeisterwahl", "de", "zh", glossary).tokens == ()


def test_tokens_are_masked_and_written_the_target_way(glossary: gl.Glossary) -> None:
    text = (
        "Am 1. Mai 2024 um 14.30 Uhr: 1.000,5 Euro, 3,5 %, 300 Gäste, "
        "www.dueren.de/a_b, info@dueren.de, Tel. 02421 25-0, Termin 01.05.2024."
    )
    m = gl.mask(text, "de", "zh", glossary)
    assert m.text == "Am ⟦1⟧ um ⟦2⟧: ⟦3⟧ Euro, ⟦4⟧ %, ⟦5⟧ Gäste, ⟦6⟧, ⟦7⟧, Tel. ⟦8⟧, Termin ⟦9⟧."
    assert [gl.render(t, "zh") for t in m.tokens] == [
        "2024年5月1日", "14:30", "1,000.5", "3.5", "300",
        "www.dueren.de/a_b", "info@dueren.de", "02421 25-0", "2024年5月1日",
    ]  # fmt: skip
    assert gl.render(m.tokens[0], "en") == "1 May 2024"


def test_chinese_tokens_come_out_german(glossary: gl.Glossary) -> None:
    m = gl.mask(
        "金华市长于2024年5月1日14时访问迪伦，共1,000.5人，电话0579-82468888。", "zh", "de", glossary
    )
    assert m.text == "⟦1⟧⟦2⟧于⟦3⟧⟦4⟧访问⟦5⟧，共⟦6⟧人，电话⟦7⟧。"
    assert [gl.render(t, "de") for t in m.tokens] == [
        "Jinhua", "Bürgermeister", "1. Mai 2024", "14 Uhr", "Düren", "1.000,5", "0579-82468888",
    ]  # fmt: skip


def test_restore_spacing_follows_the_target(glossary: gl.Glossary) -> None:
    de = gl.mask("Der Bürgermeister besucht Jinhua.", "de", "zh", glossary)
    assert gl.restore("该 ⟦1⟧ 访问 ⟦2⟧。", de, "zh") == "该市长访问金华。"
    zh = gl.mask("该市长访问金华。", "zh", "de", glossary)
    assert gl.restore("The⟦1⟧ visits⟦2⟧.", zh, "en") == "The mayor visits Jinhua."
    hant = gl.mask("Düren und Jinhua", "de", "zh-Hant", glossary)
    assert gl.restore("⟦1⟧和⟦2⟧", hant, "zh-Hant") == "迪倫和金華"


def test_problems_name_dropped_repeated_and_invented_placeholders() -> None:
    assert gl.problems("a ⟦1⟧ b ⟦2⟧", 2) == []
    assert gl.problems("a ⟦ 1 ⟧ b ⟦2⟧", 2) == []
    assert gl.problems("a ⟦1⟧ b ⟦1⟧ ⟦3⟧", 2) == ["⟦2⟧ dropped", "⟦1⟧ repeated", "⟦3⟧ invented"]
    assert gl.problems("a ⟦1 b", 1) == ["⟦1⟧ dropped"]
    assert gl.problems("a ⟦⟧", 0) == ["broken placeholder"]


# -------------------------------------------------------------------- properties

PIECES = [
    "Düren", "Dürens", "Bürgermeister", "Jinhua", "金华", "市长", "Leopold-Hoesch-Museum", "1. Mai",
    "2024", "1.000,5", "3,5", "14.30 Uhr", "www.dueren.de/a_b", "info@dueren.de", "+49 2421 25-0",
    "und", "die", "Stadt", "，", ".", "年", "访问", "x_y", "⟦", "⟧",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=12),
    st.sampled_from([" ", ""]),
    st.sampled_from(["de", "zh"]),
)
def test_mask_then_restore_is_the_identity(
    glossary: gl.Glossary, pieces: list[str], sep: str, src: str
) -> None:
    text = sep.join(pieces)
    masked = gl.mask(text, src, "zh" if src == "de" else "de", glossary)
    if "⟦" in text or "⟧" in text:
        return  # source text never holds placeholder brackets (see strip_placeholders)
    assert gl.problems(masked.text, len(masked.tokens)) == []
    assert gl.restore(masked.text, masked, src) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab ⟦⟧12[]【】 ", max_size=40))
def test_no_placeholder_survives_strip(output: str) -> None:
    cleaned = gl.strip_placeholders(output)
    assert "⟦" not in cleaned and "⟧" not in cleaned
