"""The desk's actions: carries out what ``syncd.review`` decides; holds no policy.

Every function takes the signed-in editor and reads only their own city's drafts
(``store.desk_draft(item, editor.city_id, …)``): an editor of one city cannot see or
act on another city's queue, whatever id they send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ... import review
from ...review import Decision, ReviewRefused
from ...store.desk import Correction, DeskDraft, DeskText
from ...store.editors import EditorRow
from ...translate import edit
from ...translate.edit import normalize

if TYPE_CHECKING:
    from ...app import App


@dataclass(frozen=True)
class Languages:
    """The languages of one item's draft for one city."""

    source: str
    target: str


def languages(app: App, draft: DeskDraft) -> Languages:
    return Languages(
        app.config.city(draft.item.city_id).language,
        app.config.city(draft.delivery.target_city).language,
    )


def target_language(app: App, editor: EditorRow) -> str:
    return app.config.city(editor.city_id).language


def load(app: App, editor: EditorRow, item_id: int) -> DeskDraft | None:
    """The draft of ``item_id`` for the editor's city; None if the city has none."""
    if editor.city_id not in {c.id for c in app.config.cities}:
        return None
    return app.store.desk_draft(item_id, editor.city_id, target_language(app, editor))


def save_edits(
    app: App, editor: EditorRow, item_id: int, version: int, edits: Mapping[str, str]
) -> ReviewRefused | None:
    """Merge ``edits`` into the editor's working copy of a held draft.

    A sentence set back to the machine's text stops being an edit. Returns why not
    when the draft cannot be edited now (not in the desk, changed meanwhile, not
    translated, or a sentence edit of a body that is not aligned)."""
    draft = load(app, editor, item_id)
    if draft is None:
        return ReviewRefused("not-found")
    refused = review.editable(draft.delivery, version)
    if refused is not None:
        return refused
    t = draft.translation
    if t is None:
        return ReviewRefused("not-translated")
    merged = dict(draft.text.edits) if draft.text else {}
    machine = {edit.key(s.field, s.index): s.target for s in t.segments}
    for k, text in edits.items():
        if machine.get(k) == " ".join(text.split()) or (k.endswith(":*") and not text.strip()):
            merged.pop(k, None)
        else:
            merged[k] = text
    langs = languages(app, draft)
    try:
        title, summary, body = edit.render(draft.original.body_html, langs.source, t, merged)
    except ValueError:
        return ReviewRefused("not-aligned")
    app.store.save_desk_text(
        DeskText(
            item_id=item_id,
            target_city=editor.city_id,
            version=version,
            title=title,
            summary=summary,
            body_html=body,
            edits=merged,
            whole=any(k.endswith(":*") for k in merged),
            editor=editor.name,
            updated_at=app.clock(),
        ),
        detail=", ".join(sorted(edits)),
    )
    return None


def decide(
    app: App,
    editor: EditorRow,
    item_id: int,
    version: int,
    decision: Decision,
    reason: str = "",
) -> ReviewRefused | None:
    """Approve, reject or re-translate the draft the editor's page showed (``version``).

    An approval remembers the editor's corrected sentences as the city's translation
    memory (``store.apply_review`` records all of it in one transaction)."""
    draft = load(app, editor, item_id)
    if draft is None:
        return ReviewRefused("not-found")
    langs = languages(app, draft)
    intent = review.review_decision(
        draft.delivery, draft.item, decision, version, editor.name, langs.target, reason
    )
    if isinstance(intent, ReviewRefused):
        return intent
    corrections: list[Correction] = []
    if decision is Decision.APPROVE:
        if draft.translation is None:
            return ReviewRefused("not-translated")
        if draft.text is not None:
            corrections = [
                Correction(normalize(s.source), new, s.target)
                for s, new in edit.sentence_edits(draft.translation, draft.text.edits)
            ]
    app.store.apply_review(intent, app.clock(), language=langs.target, corrections=corrections)
    return None
