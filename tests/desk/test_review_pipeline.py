"""``review = "desk"``: drafts wait in the desk and reach the target only once an
editor approves them, with the editor's text, exactly once (in process: real store,
sources, targets and desk actions; feeds and translation faked at the edge)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.models import DeliveryState
from syncd.review import Decision
from syncd.store.desk import QueueFilter
from syncd.web.desk import service
from tests.support.desk import add_editor, desk_pipeline
from tests.support.feeds import Entry
from tests.support.pipeline import DUEREN_FEED, ROUTES, Pipeline
from tests.support.translator import FakeTranslator

DE = Entry(
    "news-1",
    "Hallo Welt.",
    "<p>Hallo Welt. Düren hat 90000 Einwohner.</p>",
    "https://www.dueren.example/news/1",
)


@pytest.fixture
def pipe(tmp_path: Path) -> Iterator[Pipeline]:
    p = desk_pipeline(tmp_path, translator=FakeTranslator(ROUTES, segmented=True))
    yield p
    p.close()


def sidecars(p: Pipeline, city: str) -> list[dict[str, object]]:
    return [json.loads(f.read_text(encoding="utf-8")) for f in p.outbox(city)]


def item_id(p: Pipeline) -> int:
    ((_d, item),) = [(d, i) for d, i in p.store.deliveries() if d.target_city == "jinhua"]
    return item.id


def test_a_held_draft_reaches_the_target_only_after_approval_with_the_edit_once(
    pipe: Pipeline,
) -> None:
    pipe.feeds.entries[DUEREN_FEED] = [DE]
    result = pipe.sync()
    assert result.held == 1 and result.created == 0
    assert pipe.delivery("news-1", "jinhua").state is DeliveryState.HELD
    assert sidecars(pipe, "jinhua") == []
    # another pass changes nothing and translates nothing again
    requests = len(pipe.translator.requests)
    assert pipe.sync().held == 0 and len(pipe.translator.requests) == requests

    editor = add_editor(pipe.store, "li", "jinhua", "zh")
    iid = item_id(pipe)
    draft = service.load(pipe.app, editor, iid)
    assert draft is not None and draft.version == 1
    assert [s.target for s in draft.translation.segments if s.field == "body"] == [
        "[zh] Hallo Welt.",
        "[zh] Düren hat 90000 Einwohner.",
    ]
    assert service.save_edits(pipe.app, editor, iid, 1, {"body:1": "迪伦有九万居民。"}) is None
    assert sidecars(pipe, "jinhua") == []  # an edit is not an approval
    assert service.decide(pipe.app, editor, iid, 1, Decision.APPROVE) is None
    assert pipe.delivery("news-1", "jinhua").state is DeliveryState.APPROVED

    result = pipe.sync()
    assert result.created == 1
    (doc,) = sidecars(pipe, "jinhua")
    page = (pipe.tmp_path / "drafts" / "jinhua" / f"syncd-{doc['marker']}.html").read_text("utf-8")
    assert "<p>[zh] Hallo Welt.迪伦有九万居民。</p>" in page
    assert "syncd-review" not in page  # reviewed: no "please check" note
    assert pipe.delivery("news-1", "jinhua").state is DeliveryState.PUSHED
    assert pipe.sync().created == 0 and len(sidecars(pipe, "jinhua")) == 1
    # the other direction (Düren reviews at its target) is untouched by all this
    log, _n = pipe.store.audit_log("jinhua")
    assert [a.action for a in log][:3] == ["approve", "edit", "editor-added"]


def test_a_source_change_after_approval_goes_back_to_the_desk_then_updates(
    pipe: Pipeline,
) -> None:
    pipe.feeds.entries[DUEREN_FEED] = [DE]
    pipe.sync()
    editor = add_editor(pipe.store, "li", "jinhua", "zh")
    iid = item_id(pipe)
    assert service.decide(pipe.app, editor, iid, 1, Decision.APPROVE) is None
    pipe.sync()
    pipe.feeds.entries[DUEREN_FEED] = [
        Entry(DE.guid, "Hallo Welt!", "<p>Hallo Welt! Neu.</p>", DE.link)
    ]
    result = pipe.sync()
    assert result.held == 1 and result.updated == 0
    page = pipe.store.desk_queue("jinhua", "zh", QueueFilter(status="changed"))
    assert [(r.item_id, r.version) for r in page.rows] == [(iid, 2)]
    draft = service.load(pipe.app, editor, iid)
    assert draft is not None and draft.reviewed_original is not None
    assert draft.reviewed_original.title == "Hallo Welt." and draft.original.title == "Hallo Welt!"
    # the page showed version 1: approving it now is refused
    assert service.decide(pipe.app, editor, iid, 1, Decision.APPROVE).reason == "changed-meanwhile"
    assert service.decide(pipe.app, editor, iid, 2, Decision.APPROVE) is None
    assert pipe.sync().updated == 1
    (doc,) = sidecars(pipe, "jinhua")
    assert doc["version"] == 2 and doc["title"] == "[zh] Hallo Welt!"


def test_a_rejected_draft_never_reaches_the_target(pipe: Pipeline) -> None:
    pipe.feeds.entries[DUEREN_FEED] = [DE]
    pipe.sync()
    editor = add_editor(pipe.store, "li", "jinhua", "zh")
    iid = item_id(pipe)
    assert service.decide(pipe.app, editor, iid, 1, Decision.REJECT).reason == "reason-required"
    assert service.decide(pipe.app, editor, iid, 1, Decision.REJECT, "不相关") is None
    pipe.sync()
    assert sidecars(pipe, "jinhua") == []
    d = pipe.delivery("news-1", "jinhua")
    assert d.state is DeliveryState.REJECTED and "不相关" in (d.note or "")
    # a later source change is noted for the desk, still not delivered
    pipe.feeds.entries[DUEREN_FEED] = [Entry(DE.guid, "Neu.", "<p>Neu.</p>", DE.link)]
    pipe.sync()
    assert sidecars(pipe, "jinhua") == []
    assert pipe.delivery("news-1", "jinhua").changed_after_review
    rows = pipe.store.desk_queue("jinhua", "zh", QueueFilter(status="changed")).rows
    assert [r.item_id for r in rows] == [iid]


def test_retranslate_asks_the_models_again_and_holds_the_new_text(pipe: Pipeline) -> None:
    pipe.feeds.entries[DUEREN_FEED] = [DE]
    pipe.sync()
    editor = add_editor(pipe.store, "li", "jinhua", "zh")
    iid = item_id(pipe)
    before = len(pipe.translator.requests)
    assert service.decide(pipe.app, editor, iid, 1, Decision.RETRANSLATE) is None
    assert pipe.sync().held == 1
    assert len(pipe.translator.requests) == before + 1
    assert pipe.delivery("news-1", "jinhua").state is DeliveryState.HELD


def test_an_editor_of_one_city_cannot_act_on_the_others_drafts(pipe: Pipeline) -> None:
    pipe.feeds.entries[DUEREN_FEED] = [DE]
    pipe.sync()
    dueren = add_editor(pipe.store, "anna", "dueren", "de")
    iid = item_id(pipe)
    assert service.load(pipe.app, dueren, iid) is None
    assert service.decide(pipe.app, dueren, iid, 1, Decision.APPROVE).reason == "not-found"
    assert service.save_edits(pipe.app, dueren, iid, 1, {"body:0": "x"}).reason == "not-found"
    assert pipe.delivery("news-1", "jinhua").state is DeliveryState.HELD


def test_target_review_is_unchanged_and_the_desk_lists_it(tmp_path: Path) -> None:
    p = desk_pipeline(tmp_path, review="target")
    try:
        p.feeds.entries[DUEREN_FEED] = [DE]
        assert p.sync().created == 1
        rows = p.store.desk_queue("jinhua", "zh", QueueFilter()).rows
        assert [(r.status, r.state) for r in rows] == [("other", DeliveryState.PUSHED)]
    finally:
        p.close()


def test_an_editors_correction_is_used_next_time_and_marked(pipe: Pipeline) -> None:
    pipe.feeds.entries[DUEREN_FEED] = [DE]
    pipe.sync()
    editor = add_editor(pipe.store, "li", "jinhua", "zh")
    iid = item_id(pipe)
    assert service.save_edits(pipe.app, editor, iid, 1, {"body:1": "迪伦有九万居民。"}) is None
    assert service.decide(pipe.app, editor, iid, 1, Decision.APPROVE) is None
    (c,) = pipe.store.all_corrections("jinhua")
    assert (c.source, c.target, c.machine, c.editor) == (
        "Düren hat 90000 Einwohner.",
        "迪伦有九万居民。",
        "[zh] Düren hat 90000 Einwohner.",
        "li",
    )
    # the same sentence in another item: the editor's version, marked as such
    other = Entry("news-2", "Neu.", "<p>Düren hat 90000 Einwohner. Neu.</p>", DE.link + "2")
    pipe.feeds.entries[DUEREN_FEED] = [DE, other]
    pipe.sync()
    d2 = next(
        i.id for d, i in pipe.store.deliveries() if i.key == "news-2" and d.target_city == "jinhua"
    )
    t = pipe.store.translation(d2, 1, "zh")
    assert t is not None
    assert t.body_html == "<p>迪伦有九万居民。[zh] Neu.</p>"
    # the feed's summary starts with the same sentence: corrected there too
    assert [(f.kind, f.field, f.sentence) for f in t.flags] == [
        ("memory", "summary", 0),
        ("memory", "body", 0),
    ]
    page = pipe.store.desk_queue("jinhua", "zh", QueueFilter(flag="memory"))
    assert [r.item_id for r in page.rows] == [d2]
