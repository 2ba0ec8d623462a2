"""Planning and assembling translations: what to translate, and putting the result together.

Pure: no I/O, no model. The engine (``engine.py``) routes each request, then:

    plan = make_plan(request, legs, src, glossary=…, convert=…)
        title, summary and body → sentences (segment) → masked units (glossary:
        terms, URLs, numbers, … become ⟦n⟧); inline markup spans are units too
    the engine runs every unit's ``Job`` through its legs (``Job.outs``, ``problem``)
    piece_jobs(units): a unit whose placeholders came back dropped or repeated gets
        one job per piece between its placeholders; the engine runs those too
    assemble(plan, glossary=…, convert=…) → Translation (or the first job's error)
        restore approved forms, convert to Traditional when asked, put inline markup
        back, reassemble blocks, sanitize, check each sentence (quality flags)

``convert(config, text)`` is an OpenCC conversion (``"t2s"``, ``"s2t"``); the engine
supplies it so that this module loads nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import TranslateError
from ..models import QualityFlag, Segment, Translation
from ..sanitize import clean_html
from . import TranslationRequest, checks
from . import glossary as gl
from . import segment as seg

if TYPE_CHECKING:
    from .packages import PackageInfo

#: ``convert(opencc_config, text)``: Simplified ⇄ Traditional Chinese
Convert = Callable[[str, str], str]
TRADITIONAL = "s2t"  # OpenCC configuration for zh-Hant output


@dataclass
class Job:
    """One text through a route's legs."""

    legs: list[PackageInfo]
    text: str  # masked source, normalized
    placeholders: int  # how many the text has; -1: do not check
    outs: list[str] = field(default_factory=list)  # text after each leg
    problem: str = ""  # placeholders dropped or repeated
    error: TranslateError | None = None
    cut: bool = False  # a loop had to be cut back


@dataclass
class Unit:
    """A sentence or an inline span's text, masked, with its job(s)."""

    masked: gl.Masked
    job: Job
    pieces: list[str | gl.Token] = field(default_factory=list)  # fallback: masked.pieces()
    piece_jobs: list[Job | None] = field(default_factory=list)


@dataclass
class Field:
    """One field of a request (title, summary or body) as sentences and their units."""

    name: str
    doc: seg.Document
    html: bool
    units: dict[int, tuple[Unit, list[Unit | None]]] = field(default_factory=dict)


@dataclass
class Plan:
    """One request, planned: its route's legs and its fields' units."""

    request: TranslationRequest
    legs: list[PackageInfo]
    src: str  # Argos code of the source (zh for zh-Hant)
    fields: list[Field]

    def units(self) -> list[Unit]:
        """Every unit of every field (sentences and spans), in order."""
        return [
            u
            for f in self.fields
            for whole, spans in f.units.values()
            for u in [whole, *spans]
            if u
        ]


def normalize(text: str) -> str:
    """The form sentences are translated and remembered in."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def has_words(text: str) -> bool:
    """Anything for the model besides placeholders (punctuation counts: 。 for .)."""
    return bool(gl.PLACEHOLDER_RE.sub("", text).strip())


# ----------------------------------------------------------------------- planning


def make_plan(
    req: TranslationRequest,
    legs: list[PackageInfo],
    src: str,
    *,
    glossary: gl.Glossary,
    convert: Convert,
) -> Plan:
    """The request's fields cut into masked units, each with a job over ``legs``."""

    def prepare(text: str) -> str:
        return convert("t2s", text) if req.source_language == "zh-Hant" else text

    fields = [
        Field("title", seg.parse_text(prepare(req.title), src), False),
        Field("summary", seg.parse_text(prepare(req.summary), src), False),
        Field("body", seg.parse(prepare(req.body_html), src), True),
    ]
    plan = Plan(req, legs, src, fields)
    for f in fields:
        for i, sentence in enumerate(f.doc.sentences()):
            whole = _unit(plan, sentence.text, glossary)
            spans = [
                None if sentence.is_whole(sp) else _unit(plan, sentence.span_text(sp), glossary)
                for sp in sentence.spans
            ]
            f.units[i] = (whole, spans)
    return plan


def _unit(plan: Plan, text: str, glossary: gl.Glossary) -> Unit:
    masked = gl.mask(normalize(text), plan.src, plan.request.target_language, glossary)
    return Unit(masked, Job(plan.legs, masked.text, len(masked.tokens)))


def piece_jobs(units: Sequence[Unit]) -> list[Job]:
    """Jobs for the pieces between the placeholders of every unit whose placeholders
    came back broken (``job.problem``), set on those units; the engine runs them."""
    for u in units:
        if u.job.problem:
            u.pieces = u.masked.pieces()
            u.piece_jobs = [
                Job(u.job.legs, normalize(p), -1)  # -1: stray ⟦ ⟧ are stripped later
                if isinstance(p, str) and has_words(p)
                else None
                for p in u.pieces
            ]
    return [j for u in units for j in u.piece_jobs if j is not None]


# --------------------------------------------------------------------- assembling


def assemble(
    plan: Plan, *, glossary: gl.Glossary, convert: Convert
) -> Translation | TranslateError:
    """The request's ``Translation`` once every job has run; the first job error instead."""
    req = plan.request
    dst = req.target_language
    pivot = len(plan.legs) == 2
    for u in plan.units():
        err = u.job.error or next((j.error for j in u.piece_jobs if j and j.error), None)
        if err is not None:
            return err
    flags: list[QualityFlag] = []
    texts: dict[str, str] = {}
    pivots: dict[str, str] = {}
    segments: list[Segment] = []
    for f in plan.fields:
        sentences = f.doc.sentences()
        block_of = [b for b, block in enumerate(f.doc.blocks()) for _s in block.sentences]
        target_html: dict[int, str] = {}
        pivot_html: dict[int, str] = {}
        for i, sentence in enumerate(sentences):
            whole, spans = f.units[i]
            masked_target = _masked_out(whole, -1, dst, convert)
            target = _restore(masked_target, whole, dst, convert)
            flags += _flags(
                plan, f.name, i, sentence.text, target, whole, masked_target, glossary, convert
            )
            placed = seg.inject(
                sentence,
                target,
                [
                    target
                    if s is None
                    else _restore(_masked_out(s, -1, dst, convert), s, dst, convert)
                    for s in spans
                ],
                dst,
            )
            if placed.moved or placed.dropped:
                what = "link placed after the sentence" if placed.moved else "formatting dropped"
                flags.append(QualityFlag("placeholder", i, what, f.name))
            target_html[i] = placed.html if f.html else target
            en = ""
            if pivot:
                en = _restore(_masked_out(whole, 0, "en", convert), whole, "en", convert)
                en_spans = [
                    en
                    if s is None
                    else _restore(_masked_out(s, 0, "en", convert), s, "en", convert)
                    for s in spans
                ]
                pivot_html[i] = seg.inject(sentence, en, en_spans, "en").html if f.html else en
            segments.append(
                Segment(f.name, block_of[i], i, sentence.text, target, en, target_html[i])
            )
        texts[f.name] = _render(f, target_html, dst)
        if pivot:
            pivots[f.name] = _render(f, pivot_html, "en")
    return Translation(
        language=dst,
        title=texts["title"],
        summary=texts["summary"],
        body_html=texts["body"],
        pivot={
            "title": pivots["title"],
            "summary": pivots["summary"],
            "body_html": pivots["body"],
        }
        if pivot
        else None,
        flags=tuple(flags),
        packages=tuple(p.ref for p in plan.legs),
        segments=tuple(segments),
    )


def _masked_out(unit: Unit, leg: int, lang: str, convert: Convert) -> str:
    """A unit's masked text after ``leg`` (-1: the last), in pieces when needed."""
    if not unit.job.legs:
        text = unit.masked.text
    elif not unit.job.problem:
        text = unit.job.outs[leg]
    else:
        zh = lang.split("-")[0] == "zh"
        parts = []
        n = 0
        for piece, job in zip(unit.pieces, unit.piece_jobs, strict=True):
            if isinstance(piece, gl.Token):
                n += 1
                parts.append(gl.placeholder(n))
                continue
            out = job.outs[leg].strip() if job is not None else piece.strip()
            if zh:  # Chinese: no spaces; else keep the source's spacing
                parts.append(out)
            elif not out:
                parts.append(" " if piece[:1].isspace() else "")
            else:
                lead = " " if piece[:1].isspace() else ""
                parts.append(lead + out + (" " if piece[-1:].isspace() else ""))
        text = "".join(parts).strip()
    return convert(TRADITIONAL, text) if lang == "zh-Hant" else text


def _restore(masked_text: str, unit: Unit, lang: str, convert: Convert) -> str:
    def traditional(s: str) -> str:
        return convert(TRADITIONAL, s)

    return gl.strip_placeholders(gl.restore(masked_text, unit.masked, lang, traditional))


def _flags(
    plan: Plan,
    field_name: str,
    i: int,
    source: str,
    target: str,
    unit: Unit,
    masked_target: str,
    glossary: gl.Glossary,
    convert: Convert,
) -> list[QualityFlag]:
    flags = checks.sentence_flags(
        source=source,
        target=target,
        masked_source=unit.masked.text,
        masked_target=masked_target,
        src=plan.src,
        dst=plan.request.target_language,
        index=i,
        field=field_name,
        glossary=glossary,
        convert=lambda s: convert(TRADITIONAL, s),
    )
    if unit.job.problem:
        flags.append(
            QualityFlag("placeholder", i, f"{unit.job.problem}: translated in pieces", field_name)
        )
    jobs = [unit.job, *(j for j in unit.piece_jobs if j is not None)]
    if any(j.cut for j in jobs) and not any(f.kind == "repetition" for f in flags):
        flags.append(QualityFlag("repetition", i, "a repetition loop was cut", field_name))
    return flags


def _render(f: Field, sentence_out: dict[int, str], lang: str) -> str:
    """Reassemble a field; ``render`` visits sentences in ``doc.sentences()`` order."""
    it = iter(sentence_out[i] for i in range(len(sentence_out)))
    if f.html:
        return clean_html(seg.render(f.doc, lambda _s: next(it), lang))
    return seg.render_text(f.doc, lambda _s: next(it), lang)
