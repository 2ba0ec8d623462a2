"""ArgosEngine on generated packages: routes, markup, glossary, guards, memory, hot reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.config import ModelsConfig
from syncd.errors import ModelMissing, TranslateError
from syncd.models import QualityFlag, Translation
from syncd.store import Store
from syncd.translate import TranslationRequest, packages
from syncd.translate import glossary as gl
from syncd.translate.engine import ArgosEngine
from tests.support import argosgen

GLOSSARY = gl.load(Path(__file__).resolve().parents[2] / "config" / "glossary.toml")
CONFIG = ModelsConfig(beam_size=2)


def request(
    src: str, dst: str, title: str = "", body: str = "", summary: str = "", ref: str = "r"
) -> TranslationRequest:
    return TranslationRequest(ref, src, dst, title, summary, body)


def one(engine: ArgosEngine, req: TranslationRequest) -> Translation:
    (result,) = engine.translate([req])
    assert isinstance(result, Translation), result
    return result


@pytest.fixture
def engine(installed_models: Path) -> ArgosEngine:
    return ArgosEngine(installed_models, CONFIG)


@pytest.fixture
def glossary_engine(installed_models: Path) -> ArgosEngine:
    return ArgosEngine(installed_models, CONFIG, glossary=GLOSSARY)


def test_samples_direct_and_through_english(engine: ArgosEngine) -> None:
    results = engine.translate(
        [request(f, t, src, ref=str(i)) for i, (f, t, src, _) in enumerate(argosgen.SAMPLES)]
    )
    assert [r.title if isinstance(r, Translation) else r for r in results] == [
        s[-1] for s in argosgen.SAMPLES
    ]


def test_the_pivot_is_kept_and_packages_recorded(engine: ArgosEngine) -> None:
    t = one(
        engine,
        request(
            "de", "zh", "Hallo Welt.", "<p>Düren hat 90000 Einwohner.</p>", "Willkommen in Düren!"
        ),
    )
    assert (t.language, t.title, t.summary, t.body_html) == (
        "zh",
        "你好世界。",
        "欢迎在迪伦！",
        "<p>迪伦有 90000居民。</p>",
    )
    assert t.pivot == {
        "title": "Hello world.",
        "summary": "Welcome in Düren!",
        "body_html": "<p>Düren has 90000 inhabitants.</p>",
    }
    assert t.packages == ("translate-de_en@1.0", "translate-en_zh@1.0")
    direct = one(engine, request("de", "en", "Hallo Welt."))
    assert (direct.pivot, direct.packages) == (None, ("translate-de_en@1.0",))


def test_markup_survives_around_its_words(glossary_engine: ArgosEngine) -> None:
    body = (
        "<h2>Hallo\n  Welt</h2>"
        '<p>Heute besucht der Bürgermeister von Düren die <a href="https://jinhua.example/a_b">Partnerstadt '
        "Jinhua</a>. Das <b>neue Museum</b> kostet 5 €.</p>"
        "<ul><li><em>Willkommen!</em></li></ul><blockquote><p>Hallo Welt.</p></blockquote>"
        "<table><tr><td>Kultur</td><td>2024</td></tr></table><figure><figcaption>Düren</figcaption></figure>"
    )
    t = one(glossary_engine, request("de", "zh", body=body))
    assert t.body_html == (
        "<h2>你好世界</h2>"
        '<p>今天访问该市长的迪伦该<a href="https://jinhua.example/a_b" rel="noopener noreferrer">友好城市金华</a>。'
        "该<b>新博物馆</b>花费 5 €。</p>"
        "<ul><li><em>欢迎！</em></li></ul><blockquote><p>你好世界。</p></blockquote>"
        "<table><tbody><tr><td>文化</td><td>2024</td></tr></tbody></table><figure><figcaption>迪伦</figcaption></figure>"
    )
    assert (
        t.pivot is not None
        and '<a href="https://jinhua.example/a_b" rel="noopener noreferrer">twin city Jinhua</a>'
        in t.pivot["body_html"]
    )
    assert t.flags == ()


def test_hostile_markup_is_sanitized(engine: ArgosEngine) -> None:
    t = one(
        engine,
        request(
            "de",
            "en",
            body='<p onclick="x()">Hallo <script>alert(1)</script><a href="javascript:x">Welt</a>.</p>',
        ),
    )
    assert t.body_html == '<p>Hello <a rel="noopener noreferrer">world</a>.</p>'


def test_glossary_terms_in_both_directions_and_traditional(glossary_engine: ArgosEngine) -> None:
    de = one(
        glossary_engine,
        request("de", "zh", "Der Besuch des Bürgermeisters in Dürens Partnerstadt."),
    )
    assert de.title == "该 Besuch des 市长在迪伦友好城市。"  # the test model knows neither word
    zh = one(glossary_engine, request("zh", "de", "该市长访问金华。"))
    assert zh.title == "Der Bürgermeister besucht Jinhua."
    hant = one(glossary_engine, request("de", "zh-Hant", "Düren ist eine Stadt in Deutschland."))
    assert (hant.language, hant.title) == ("zh-Hant", "迪倫是一個城市在德國。")
    from_hant = one(glossary_engine, request("zh-Hant", "de", "你好世界！該市長訪問金華。"))
    assert from_hant.title == "Hallo Welt! Der Bürgermeister besucht Jinhua."


def test_flags_travel_with_the_translation(engine: ArgosEngine) -> None:
    t = one(engine, request("de", "zh", "Hallo Welt.", "<p>Hallo Welt. Frank besucht Jinhua.</p>"))
    assert t.body_html == "<p>你好世界。Frank访问金华。</p>"
    assert t.flags == (QualityFlag("untranslated", 1, "copied: Frank", "body"),)


def test_missing_models_name_the_install_command_then_work_once_installed(
    tmp_path: Path, argos_package_dir: Path
) -> None:
    engine = ArgosEngine(tmp_path / "models", CONFIG)
    assert engine.missing("de", "zh-Hant") == [
        "no installed model for de→zh-Hant; install it with: syncd models install de zh"
    ]
    (result,) = engine.translate([request("de", "zh", "Hallo Welt.")])
    assert isinstance(result, ModelMissing) and "syncd models install de zh" in str(result)
    packages.install_file(tmp_path / "models", argos_package_dir)  # no restart
    assert engine.missing("de", "zh") == []
    assert one(engine, request("de", "zh", "Hallo Welt.")).title == "你好世界。"


def test_one_bad_request_never_fails_the_others(models_dir: Path) -> None:
    (models_dir / "translate-en_de-1_0" / "model" / "model.bin").write_bytes(b"broken")
    engine = ArgosEngine(models_dir, CONFIG)
    results = engine.translate(
        [
            request("de", "fr", "Hallo."),
            request("zh", "de", "你好世界。"),
            request("de", "zh", "Hallo Welt."),
        ]
    )
    assert isinstance(results[0], ModelMissing)
    assert isinstance(results[1], TranslateError) and "translate-en_de@1.0" in str(results[1])
    assert isinstance(results[2], Translation) and results[2].title == "你好世界。"


def test_updated_and_removed_models_are_used_without_restart(
    models_dir: Path, tmp_path: Path
) -> None:
    engine = ArgosEngine(models_dir, CONFIG)
    assert one(engine, request("de", "en", "Hallo Welt.")).title == "Hello world."
    newer = argosgen.build_package(
        tmp_path / "new", "de", "en", {**argosgen.DE_EN, "▁Welt": "▁earth"}, version="1.1"
    )
    packages.install_file(models_dir, newer)
    t = one(engine, request("de", "en", "Hallo Welt."))
    assert (t.title, t.packages) == ("Hello earth.", ("translate-de_en@1.1",))
    packages.remove(models_dir, "de", "en")
    (gone,) = engine.translate([request("de", "en", "Hallo Welt.")])
    assert isinstance(gone, ModelMissing)


def test_one_batch_per_leg_across_items_and_identical_sentences_once(engine: ArgosEngine) -> None:
    reqs = [
        request(
            "de",
            "zh",
            "Hallo Welt.",
            "<p>Düren ist eine Stadt in Deutschland. Hallo Welt.</p>",
            ref="a",
        ),
        request("de", "zh", "Hallo Welt.", "<p>Jinhua ist eine Stadt in China.</p>", ref="b"),
        request("zh", "de", "你好世界。", "<p>迪伦有 90000居民。</p>", ref="c"),
    ]
    results = engine.translate(reqs)
    assert all(isinstance(r, Translation) for r in results)
    assert engine.stats["batches"] == 4  # de→en, zh→en, then en→zh, en→de
    assert engine.stats["translated"] == 3 + 2 + 3 + 2  # distinct sentences per leg


def test_memory_retranslates_only_changed_sentences(installed_models: Path, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'syncd.db'}")
    engine = ArgosEngine(installed_models, CONFIG, memory=store)
    body = "<p>Düren ist eine Stadt in Deutschland. Jinhua ist eine Stadt in China.</p>"
    first = one(engine, request("de", "zh", "Hallo Welt.", body))
    assert engine.stats["translated"] == 6
    again = ArgosEngine(installed_models, CONFIG, memory=store)  # a restart: memory is in the store
    assert one(again, request("de", "zh", "Hallo Welt.", body)) == first
    assert again.stats["translated"] == 0 and again.stats["batches"] == 0
    one(again, request("de", "zh", "Hallo Welt.", body.replace("China", "Deutschland")))
    assert again.stats["translated"] == 2  # the changed sentence, once per leg
    assert store.recall("translate-de_en@1.0", ["Hallo Welt."]) == {"Hallo Welt.": "Hello world."}
    store.close()


def broken_placeholder_engine(tmp_path: Path) -> ArgosEngine:
    """de→en whose model turns ⟦ into [: every placeholder comes back broken."""
    target = tmp_path / "models"
    packages.install_file(
        target, argosgen.build_package(tmp_path / "p", "de", "en", {**argosgen.DE_EN, "⟦": "["})
    )
    packages.install_file(
        target, argosgen.build_package(tmp_path / "p", "en", "zh", argosgen.EN_ZH)
    )
    return ArgosEngine(target, CONFIG, glossary=GLOSSARY)


def test_broken_placeholders_fall_back_to_pieces_and_never_leak(tmp_path: Path) -> None:
    engine = broken_placeholder_engine(tmp_path)
    t = one(
        engine,
        request("de", "zh", "Heute besucht der Bürgermeister von Düren die Partnerstadt Jinhua."),
    )
    assert t.title == "今天访问该市长的迪伦该友好城市金华。"
    assert (
        t.pivot is not None
        and t.pivot["title"] == "Today visits the mayor of Düren the twin city Jinhua."
    )
    assert [(f.kind, f.detail) for f in t.flags] == [
        ("placeholder", "⟦1⟧ dropped, ⟦2⟧ dropped, ⟦3⟧ dropped, ⟦4⟧ dropped: translated in pieces")
    ]
    mixed = one(
        engine,
        request(
            "de",
            "en",
            "Düren hat 1.000 Einwohner, www.dueren.de/a_b.",
            "<p>Hallo <b>Düren</b>!</p>",
        ),
    )
    for text in (mixed.title, mixed.body_html):
        assert "⟦" not in text and "⟧" not in text and "[" not in text
    assert mixed.title == "Düren has 1,000 inhabitants, www.dueren.de/a_b."


def test_repetition_loops_are_retried_then_cut_and_flagged(tmp_path: Path) -> None:
    words = {
        "▁eins": "▁yes",
        "▁zwei": "▁no",
        "▁drei": "▁yes",
        "▁vier": "▁no",
        "▁fünf": "▁yes",
        "▁sechs": "▁no",
    }
    target = tmp_path / "models"
    packages.install_file(
        target, argosgen.build_package(tmp_path / "p", "de", "en", {**argosgen.DE_EN, **words})
    )
    engine = ArgosEngine(target, CONFIG)
    t = one(engine, request("de", "en", "Hallo Welt. eins zwei drei vier fünf sechs"))
    assert t.title == "Hello world. yes no"
    assert engine.stats["retried"] == 1
    assert t.flags == (QualityFlag("repetition", 0, "a repetition loop was cut", "title"),)
    echo = one(engine, request("de", "en", "Welt Welt Welt Welt"))  # the source repeats: fine
    assert (echo.title, echo.flags) == ("world world world world", ())


def test_sentences_over_the_model_limit_are_cut_safely(engine: ArgosEngine) -> None:
    english = dict((r[0], r[1]) for r in argosgen.LEXICON)
    words = [w for w in english if w.islower() and list(english.values()).count(english[w]) == 1]
    long_de = (
        ", ".join(
            " ".join(words[i % len(words)] for i in range(k, k + 9)) for k in range(0, 300, 9)
        )
        + "."
    )
    t = one(engine, request("de", "en", long_de))
    expected = ", ".join(
        " ".join(english[words[i % len(words)]] for i in range(k, k + 9)) for k in range(0, 300, 9)
    )
    assert t.title == expected + "."


def test_simplified_to_traditional_needs_no_model(tmp_path: Path) -> None:
    engine = ArgosEngine(tmp_path / "none", CONFIG, glossary=GLOSSARY)
    t = one(
        engine, request("zh", "zh-Hant", "金华市长访问迪伦。", "<p>发展经济，2024年5月1日。</p>")
    )
    assert (t.title, t.body_html, t.packages, t.pivot) == (
        "金華市長訪問迪倫。",
        "<p>發展經濟，2024年5月1日。</p>",
        (),
        None,
    )


WORDS = ["Hallo", "Welt", "Düren", "Jinhua", "Bürgermeister", "Museum", "kostet", "1.000,5", "14.30 Uhr",
         "www.dueren.de/a_b", "info@dueren.de", "1. Mai 2024", "Leopold-Hoesch-Museum", "und", "die", ","]  # fmt: skip


@pytest.fixture(scope="module")
def broken_engine(tmp_path_factory: pytest.TempPathFactory) -> ArgosEngine:
    return broken_placeholder_engine(tmp_path_factory.mktemp("broken"))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8), min_size=1, max_size=3),
    st.sampled_from(["", "b", "a"]),
)
def test_no_placeholder_ever_reaches_an_editor(
    broken_engine: ArgosEngine, sentences: list[list[str]], tag: str
) -> None:
    engine = broken_engine
    text = " ".join(" ".join(words) + "." for words in sentences)
    body = (
        f"<p><{tag}>{text}</{tag}></p>"
        if tag == "b"
        else f'<p>Mehr: <a href="/x">{text}</a> heute.</p>'
    )
    t = one(engine, request("de", "zh", text, body if tag else f"<p>{text}</p>", text))
    assert t.pivot is not None
    for out in (t.title, t.summary, t.body_html, *t.pivot.values()):
        assert "⟦" not in out and "⟧" not in out
    for token in ("www.dueren.de/a_b", "info@dueren.de", "Leopold-Hoesch-Museum"):
        assert text.count(token) == t.title.count(token) == t.pivot["title"].count(token)
