"""What the draft page shows, built from a ``DeskDraft``. Contains no business logic.

Rows align the original, the English pivot and the translation sentence by sentence
(``Translation.segments``), each with the quality flags of that sentence and whether
an editor changed it; a translation without segments is shown field by field. The
diff compares the reviewed original with the current one, sentence by sentence.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ...models import Item, QualityFlag, Translation
from ...sanitize import to_text
from ...store.desk import DeskText
from ...translate import edit
from ...translate import segment as seg

FIELDS = ("title", "summary", "body")


@dataclass(frozen=True)
class Row:
    """One sentence (or a whole field) of the draft page."""

    field: str
    key: str  # the edit key: "body:3", or "body:*" for a whole field
    index: int  # -1 for a whole field
    block: int
    source: str
    pivot: str
    target: str
    flags: tuple[QualityFlag, ...] = ()
    edited: bool = False


@dataclass
class FieldView:
    name: str
    rows: list[Row] = field(default_factory=list)
    flags: tuple[QualityFlag, ...] = ()  # flags on the whole field (sentence -1)
    whole_edited: bool = False


def _source_text(item: Item, name: str) -> str:
    return {"title": item.title, "summary": item.summary, "body": to_text(item.body_html)}[name]


def _target_text(t: Translation, name: str) -> str:
    return {"title": t.title, "summary": t.summary, "body": to_text(t.body_html)}[name]


def _pivot_text(t: Translation, name: str) -> str:
    if not t.pivot:
        return ""
    raw = t.pivot.get("body_html" if name == "body" else name, "")
    return to_text(raw) if name == "body" else raw


def fields(original: Item, t: Translation | None, text: DeskText | None) -> list[FieldView]:
    """The page's rows, field by field (see the module docstring)."""
    edits: Mapping[str, str] = text.edits if text else {}
    out: list[FieldView] = []
    for name in FIELDS:
        fv = FieldView(name)
        out.append(fv)
        if t is None:
            fv.rows.append(
                Row(name, edit.key(name, "*"), -1, 0, _source_text(original, name), "", "")
            )
            continue
        flags = [f for f in t.flags if f.field == name]
        fv.flags = tuple(f for f in flags if f.sentence < 0)
        whole = edits.get(edit.key(name, "*"))
        segs = edit.field_segments(t, name)
        if whole is not None or not segs:
            target = _target_text(t, name)
            if whole is not None and text is not None:
                target = _target_text_of_text(text, name)
                fv.whole_edited = True
            fv.rows.append(
                Row(name, edit.key(name, "*"), -1, 0, _source_text(original, name),
                    _pivot_text(t, name), target, tuple(flags), whole is not None)
            )  # fmt: skip
            continue
        for s in segs:
            k = edit.key(name, s.index)
            fv.rows.append(
                Row(name, k, s.index, s.block, s.source, s.pivot, edits.get(k, s.target),
                    tuple(f for f in flags if f.sentence == s.index), k in edits)
            )  # fmt: skip
    return out


def _target_text_of_text(text: DeskText, name: str) -> str:
    return {"title": text.title, "summary": text.summary, "body": to_text(text.body_html)}[name]


@dataclass(frozen=True)
class DiffLine:
    op: str  # "-" reviewed only, "+" current only
    text: str


def _sentences(item: Item, lang: str) -> list[str]:
    code = lang.split("-")[0]
    out = [s.text for s in seg.parse_text(item.title, code).sentences()]
    out += [s.text for s in seg.parse_text(item.summary, code).sentences()]
    out += [s.text for s in seg.parse(item.body_html, code).sentences()]
    return out


def diff(reviewed: Item, current: Item, lang: str) -> Sequence[DiffLine]:
    """Sentences only in the reviewed original (``-``) or only in the current one
    (``+``), in order."""
    lines = difflib.ndiff(_sentences(reviewed, lang), _sentences(current, lang))
    return [DiffLine(line[0], line[2:]) for line in lines if line[:1] in "+-"]
