"""Repeated corrections of one term become glossary suggestions (pure, and on the
desk's page for the editors of that city)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.review import Decision
from syncd.translate.suggest import Correction, replacements, suggestions, toml_lines
from syncd.web.desk import service
from tests.support.desk import DeskClient, add_editor, desk_pipeline, login
from tests.support.feeds import Entry
from tests.support.pipeline import DUEREN_FEED, ROUTES, Pipeline
from tests.support.translator import FakeTranslator


def test_replacements_are_found_by_characters_in_chinese_and_words_elsewhere() -> None:
    assert replacements("市长访问金华。", "市委书记访问金华。", "zh") == [("长", "委书记")]
    assert replacements(
        "Der Bürgermeister besucht Jinhua.", "Der Oberbürgermeister besucht Jinhua.", "de"
    ) == [("Bürgermeister", "Oberbürgermeister")]
    assert replacements("甲" * 30 + "。", "乙" * 30 + "。", "zh") == []  # too long for a term
    assert replacements("[zh] Bürgermeister kommt.", "[zh] Oberbürgermeister kommt.", "zh") == [
        ("Bürgermeister", "Oberbürgermeister")
    ]


def test_only_repeated_corrections_are_suggested_most_frequent_first() -> None:
    cs = [
        Correction("Der Bürgermeister kommt.", "[zh] 市长来了。", "[zh] 市委书记来了。"),
        Correction("Der Bürgermeister geht.", "[zh] 市长走了。", "[zh] 市委书记走了。"),
        Correction("Der Bürgermeister spricht.", "[zh] 市长讲话。", "[zh] 市委书记讲话。"),
        Correction("Ein Fest.", "[zh] 节日。", "[zh] 庆典。"),  # once: not suggested
    ]
    (s,) = suggestions(cs, "zh")
    assert (s.machine, s.editor, s.count, s.example) == (
        "长",
        "委书记",
        3,
        "Der Bürgermeister kommt.",
    )
    assert toml_lines(s, "zh", "de") == '[[term]]\nde = ""  # the source form\nzh = "委书记"'


@pytest.fixture
def pipe(tmp_path: Path) -> Iterator[Pipeline]:
    p = desk_pipeline(tmp_path, translator=FakeTranslator(ROUTES, segmented=True))
    yield p
    p.close()


def test_the_desk_offers_them_to_the_citys_editors(pipe: Pipeline) -> None:
    editor = add_editor(pipe.store, "li", "jinhua", "zh")
    add_editor(pipe.store, "anna", "dueren", "de")
    pipe.feeds.entries[DUEREN_FEED] = [
        Entry(f"n{i}", f"Der Bürgermeister {w}.", f"<p>Der Bürgermeister {w}.</p>",
              f"https://www.dueren.example/{i}")
        for i, w in enumerate(("kommt", "geht"))
    ]  # fmt: skip
    pipe.sync()
    for d, item in pipe.store.deliveries():
        if d.target_city != "jinhua":
            continue
        t = pipe.store.translation(item.id, 1, "zh")
        assert t is not None
        (body,) = [s for s in t.segments if s.field == "body"]
        fixed = body.target.replace("Bürgermeister", "Oberbürgermeister")
        assert service.save_edits(pipe.app, editor, item.id, 1, {"body:0": fixed}) is None
        assert service.decide(pipe.app, editor, item.id, 1, Decision.APPROVE) is None
    web = DeskClient(pipe)
    try:
        login(web, "li")
        page = web.get("/desk/glossary").text
        assert "Bürgermeister" in page and "Oberbürgermeister" in page and "<td>2</td>" in page
        login(web, "anna")
        assert "Noch keine Vorschläge." in web.get("/desk/glossary").text  # Düren's own: none
    finally:
        web.close()
