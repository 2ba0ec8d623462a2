"""Editors' changes put back into a translation's fields. Pure: no I/O, no models.

The desk shows a translation sentence by sentence (``Translation.segments``); an
editor rewrites single sentences (``edits["body:3"] = "…"``) or a whole field
(``edits["body:*"] = "<p>…</p>"``). ``render`` rebuilds title, summary and body
from the original's structure and the sentences, the way the engine assembled them
(``plan.assemble``), so a translation without edits comes out exactly as it was.

The body's structure comes from parsing the original body again (``segment.parse``)
and is only used when it has as many sentences as the translation has body segments
(``aligned``); otherwise only whole-field edits are possible. An edited sentence is
plain text: inline markup the machine translation had in it (a link, bold) gives way
to the editor's words.
"""

from __future__ import annotations

import html as htmlmod
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..models import QualityFlag, Segment, Translation
from ..sanitize import clean_html, to_text
from . import segment as seg

FIELDS = ("title", "summary", "body")
WHOLE = "*"


def key(field: str, index: int | str) -> str:
    """The edit key of one sentence (``"body:3"``) or a whole field (``"body:*"``)."""
    return f"{field}:{index}"


def _code(language: str) -> str:
    return language.split("-")[0]


def field_segments(t: Translation, field: str) -> list[Segment]:
    return sorted((s for s in t.segments if s.field == field), key=lambda s: s.index)


def aligned(original_body: str, source_language: str, t: Translation) -> bool:
    """Whether the body can be edited sentence by sentence: the original parses into
    as many sentences as the translation has body segments, and rebuilding the body
    from them gives the translation's body."""
    segs = field_segments(t, "body")
    if not segs and t.body_html.strip():
        return False
    doc = seg.parse(original_body, _code(source_language))
    if len(doc.sentences()) != len(segs):
        return False
    return _body(doc, segs, {}, t.language) == t.body_html


def _clean_sentence(text: str) -> str:
    return " ".join(to_text(text).split())


def _body(
    doc: seg.Document, segs: Sequence[Segment], edits: Mapping[str, str], language: str
) -> str:
    it = iter(segs)

    def sentence_html(_s: seg.Sentence) -> str:
        s = next(it)
        edited = edits.get(key("body", s.index))
        if edited is None:
            return s.target_html
        return htmlmod.escape(_clean_sentence(edited), quote=False)

    return clean_html(seg.render(doc, sentence_html, language))


def render(
    original_body: str,
    source_language: str,
    t: Translation,
    edits: Mapping[str, str],
) -> tuple[str, str, str]:
    """Title, summary and body of ``t`` with ``edits`` applied (see the module
    docstring). Sentence edits of a body that is not ``aligned`` raise ValueError
    (the desk offers only whole-body edits then)."""
    out: dict[str, str] = {}
    machine = {"title": t.title, "summary": t.summary, "body": t.body_html}
    for field in FIELDS:
        whole = edits.get(key(field, WHOLE))
        if whole is not None:
            out[field] = clean_html(whole) if field == "body" else _clean_sentence(whole)
            continue
        segs = field_segments(t, field)
        touched = any(key(field, s.index) in edits for s in segs)
        if not touched:
            out[field] = machine[field]
        elif field == "body":
            if not aligned(original_body, source_language, t):
                raise ValueError("the body cannot be edited sentence by sentence")
            doc = seg.parse(original_body, _code(source_language))
            out[field] = _body(doc, segs, edits, t.language)
        else:
            out[field] = seg.join_sentences(
                [_clean_sentence(edits.get(key(field, s.index), s.target)) for s in segs],
                t.language,
            )
    return out["title"], out["summary"], out["body"]


def sentence_edits(t: Translation, edits: Mapping[str, str]) -> list[tuple[Segment, str]]:
    """The segments an editor rewrote, with their new text (for the translation
    memory: whole-field edits are not sentences and are left out)."""
    out: list[tuple[Segment, str]] = []
    for s in t.segments:
        new = edits.get(key(s.field, s.index))
        if new is not None and _clean_sentence(new) != s.target:
            out.append((s, _clean_sentence(new)))
    return out


def normalize(text: str) -> str:
    """The form source sentences are remembered in (as ``plan.normalize``)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def remembered(
    t: Translation, original_body: str, source_language: str, memory: Mapping[str, str]
) -> Translation:
    """``t`` with every sentence an editor corrected before (``memory``: normalized
    source sentence → the editor's sentence) replaced by the editor's version and
    marked with a ``memory`` flag. A body that is not ``aligned`` keeps its machine
    sentences (the title and summary still take the corrections)."""
    edits = {
        key(s.field, s.index): memory[normalize(s.source)]
        for s in t.segments
        if normalize(s.source) in memory and memory[normalize(s.source)] != s.target
    }
    if not edits:
        return t
    if not aligned(original_body, source_language, t):
        edits = {k: v for k, v in edits.items() if not k.startswith("body:")}
        if not edits:
            return t
    title, summary, body = render(original_body, source_language, t, edits)
    segments = tuple(
        replace(
            s,
            target=edits[key(s.field, s.index)],
            target_html=htmlmod.escape(edits[key(s.field, s.index)], quote=False),
        )
        if key(s.field, s.index) in edits
        else s
        for s in t.segments
    )
    flags = t.flags + tuple(
        QualityFlag("memory", s.index, "an editor's earlier correction", s.field)
        for s in t.segments
        if key(s.field, s.index) in edits
    )
    return replace(t, title=title, summary=summary, body_html=body, segments=segments, flags=flags)
