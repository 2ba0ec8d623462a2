"""checks: quality flags for editors (pure)."""

from __future__ import annotations

from pathlib import Path

from syncd.models import QualityFlag
from syncd.translate import checks
from syncd.translate import glossary as gl

GLOSSARY = gl.load(Path(__file__).resolve().parents[2] / "config" / "glossary.toml")


def test_loops_are_found_in_chinese_and_latin_text() -> None:
    assert checks.loop("结果阴性阳性阴性阳性阴性阳性", "zh") == "阴性阳性"
    assert checks.loop("(掌声)(掌声)(掌声)", "zh") == "(掌声)"
    assert checks.loop("the city the city the city is nice", "en") == "the city"
    assert checks.loop("Der Bürgermeister besucht Jinhua.", "de") is None
    assert checks.collapse_loops("结果阴性阳性阴性阳性阴性阳性。", "zh") == "结果阴性阳性。"


def test_repetition_that_the_source_has_is_not_flagged() -> None:
    assert checks.repetition("Ha ha ha ha!", "Ha ha ha ha!", "de", "en") is None
    assert checks.repetition("Hallo Welt.", "你好你好你好世界", "de", "zh") == "repeated: 你好"
    assert (
        checks.repetition("a b c d e f", "x y z q x y z r x y z", "de", "en")
        == "repeated 3×: x y z"
    )


def test_untranslated_and_copied_source() -> None:
    assert (
        checks.untranslated("Frank besucht ⟦1⟧.", "Frank访问⟦1⟧。", "de", "zh") == "copied: Frank"
    )
    assert checks.untranslated("⟦1⟧ besucht ⟦2⟧.", "⟦1⟧访问⟦2⟧。", "de", "zh") is None
    assert (
        checks.untranslated("该市长访问金华。", "Der 市长 besucht.", "zh", "de") == "copied: 市长"
    )
    assert (
        checks.untranslated("Das ist ein Satz.", "Das ist ein Satz.", "de", "en")
        == "identical to the source"
    )


def test_length_ratio_outliers() -> None:
    long_de = "Der Bürgermeister besucht heute die Partnerstadt Jinhua."
    assert checks.length_ratio(long_de, "市长", "de", "zh") is not None
    assert checks.length_ratio(long_de, "今天市长访问友好城市金华。", "de", "zh") is None
    assert checks.length_ratio("Kurz.", "短", "de", "zh") is None  # too short to judge


def test_numbers_written_by_the_model_are_flagged() -> None:
    assert checks.numbers("Es kamen ⟦1⟧ Gäste.", "来了⟦1⟧客人。") is None
    assert checks.numbers("Es kamen ⟦1⟧ Gäste und 5G.", "来了⟦1⟧客人，5G和 12。") == "added 12"
    assert checks.numbers("Version A4 kommt.", "版本来了。") == "lost 4"


def test_glossary_terms_missing_even_inside_compounds() -> None:
    assert checks.glossary_missing(
        "Die Bürgermeisterwahl ist heute.", "选举今天。", GLOSSARY, "de", "zh"
    ) == ["市长"]
    assert (
        checks.glossary_missing(
            "Die Bürgermeisterwahl ist heute.", "市长选举今天。", GLOSSARY, "de", "zh"
        )
        == []
    )
    assert checks.glossary_missing("Düren", "迪伦", GLOSSARY, "de", "zh-Hant") == ["迪倫"]


def test_sentence_flags_collects_every_check() -> None:
    flags = checks.sentence_flags(
        source="Frank besucht die Bürgermeisterwahl 2024.",
        target="Frank访问访问访问 12。",
        masked_source="Frank besucht die Bürgermeisterwahl ⟦1⟧.",
        masked_target="Frank访问访问访问 12。",
        src="de",
        dst="zh",
        index=3,
        field="body",
        glossary=GLOSSARY,
    )
    assert {f.kind for f in flags} == {"repetition", "untranslated", "numbers", "glossary"}
    assert QualityFlag("glossary", 3, "missing: 市长", "body") in flags
