"""A deterministic ``Translator`` for pipeline tests: no models, no CTranslate2.

Contains no business logic. Every piece of text is "translated" by prefixing it with
the target language in brackets (``"Hallo Welt."`` → ``"[zh] Hallo Welt."``), inside
HTML only the text between tags, so markup survives as a real engine keeps it. A
route between two languages neither of which is English gets an English pivot
(``"[en] Hallo Welt."``), as Argos pivots through English.

With ``segmented=True`` it works sentence by sentence as the real engine does
(``syncd.translate.segment``): every sentence is marked, and the translation carries
its ``segments`` (source, pivot, target per sentence), as the editors' desk needs.

Routes are installed or removed at run time (``install`` / ``remove``); a request on a
route that is not installed gives ``ModelMissing`` naming the install command, like
the real engine. Every request is recorded in ``requests``, so a test can tell what
reached translation at all (an echo must not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from syncd.errors import ModelMissing, TranslateError
from syncd.models import Segment, Translation
from syncd.sanitize import clean_html
from syncd.translate import TranslationRequest
from syncd.translate import segment as seg

#: a text run outside tags that has something in it besides white space
_TEXT = re.compile(r"(?<=>)([^<]*[^<\s][^<]*)(?=<)")


def mark(language: str, text: str) -> str:
    """``text`` as this translator renders it in ``language``."""
    return f"[{language}] {text}" if text.strip() else text


def mark_html(language: str, html: str) -> str:
    """Every text run of ``html`` marked, the markup as it was."""
    if not html.strip():
        return html
    if "<" not in html:
        return mark(language, html)
    return _TEXT.sub(lambda m: mark(language, m.group(1)), f">{html}<")[1:-1]


class FakeTranslator:
    """Implements ``syncd.translate.Translator``; see the module docstring."""

    def __init__(self, routes: Iterable[tuple[str, str]] = (), *, segmented: bool = False) -> None:
        self.routes: set[tuple[str, str]] = set(routes)
        self.segmented = segmented
        self.requests: list[TranslationRequest] = []
        self.closed = False

    def install(self, source_language: str, target_language: str) -> None:
        self.routes.add((source_language, target_language))

    def remove(self, source_language: str, target_language: str) -> None:
        self.routes.discard((source_language, target_language))

    def missing(self, source_language: str, target_language: str) -> list[str]:
        if (source_language, target_language) in self.routes:
            return []
        return [f"syncd models install {source_language} {target_language}"]

    def translate(
        self, requests: Sequence[TranslationRequest]
    ) -> list[Translation | TranslateError]:
        self.requests.extend(requests)
        return [self._one(r) for r in requests]

    def _one(self, r: TranslationRequest) -> Translation | TranslateError:
        src, tgt = r.source_language, r.target_language
        missing = self.missing(src, tgt)
        if missing:
            return ModelMissing(src, tgt, "; ".join(missing))
        if self.segmented:
            return _segmented(r)
        pivot = None
        if "en" not in (src, tgt):
            pivot = {
                "title": mark("en", r.title),
                "summary": mark("en", r.summary),
                "body_html": mark_html("en", r.body_html),
            }
        return Translation(
            language=tgt,
            title=mark(tgt, r.title),
            summary=mark(tgt, r.summary),
            body_html=mark_html(tgt, r.body_html),
            pivot=pivot,
            packages=(f"fake-{src}_{tgt}@1.0",),
        )

    def describe_settings(self) -> str:
        return "a fake translator (tests)"

    def close(self) -> None:
        self.closed = True

    def titles(self) -> list[str]:
        """The titles of every request so far, in order."""
        return [r.title for r in self.requests]


def _segmented(r: TranslationRequest) -> Translation:
    """Sentence by sentence, with segments (see the module docstring)."""
    src, tgt = r.source_language.split("-")[0], r.target_language
    pivot = "en" not in (src, tgt)
    segments: list[Segment] = []
    out: dict[str, str] = {}
    for name, text, html in (
        ("title", r.title, False),
        ("summary", r.summary, False),
        ("body", r.body_html, True),
    ):
        doc = seg.parse(text, src) if html else seg.parse_text(text, src)
        block_of = [b for b, block in enumerate(doc.blocks()) for _s in block.sentences]
        made: list[str] = []
        for i, sentence in enumerate(doc.sentences()):
            target = mark(tgt, sentence.text)
            target_html = mark(tgt, seg.identity_html(sentence)) if html else target
            made.append(target_html)
            segments.append(
                Segment(name, block_of[i], i, sentence.text, target,
                        mark("en", sentence.text) if pivot else "", target_html)
            )  # fmt: skip
        it = iter(made)
        if html:
            out[name] = clean_html(seg.render(doc, lambda _s, it=it: next(it), tgt))
        else:
            out[name] = seg.render_text(doc, lambda _s, it=it: next(it), tgt)
    return Translation(
        language=tgt,
        title=out["title"],
        summary=out["summary"],
        body_html=out["body"],
        pivot={
            "title": mark("en", r.title),
            "summary": mark("en", r.summary),
            "body_html": mark_html("en", r.body_html),
        }
        if pivot
        else None,
        packages=(f"fake-{src}_{tgt}@1.0",),
        segments=tuple(segments),
    )
