"""Quality checks on one translated sentence: notes for editors. Pure.

Each check looks at a source sentence and its translation and returns a short
detail when something looks wrong (``None`` when fine); ``sentence_flags`` runs
them all and turns findings into ``QualityFlag`` s. The checks that need to ignore
protected tokens are given the *masked* texts (placeholders ``⟦n⟧`` stand where
URLs, numbers and terms were), so a restored term or URL never counts as copied
source, and a number the model wrote itself is told apart from a restored one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

from ..models import QualityFlag
from .glossary import PLACEHOLDER_RE, Glossary

#: Every kind of flag the engine writes (QualityFlag.kind).
KINDS = ("repetition", "untranslated", "length-ratio", "numbers", "placeholder", "glossary")

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]{3,}")
_DIGITS = re.compile(r"\d+")

#: Expected length of a translation in characters, relative to its source, by script.
_RATIO = {
    ("latin", "latin"): 1.0,
    ("latin", "cjk"): 0.3,
    ("cjk", "latin"): 3.3,
    ("cjk", "cjk"): 1.0,
}
RATIO_SPREAD = 2.5  # flag below expected / spread or above expected * spread
MIN_CHARS = 12  # too short to judge length or copying


def script(lang: str) -> str:
    return "cjk" if lang.split("-")[0] == "zh" else "latin"


def _units(text: str, lang: str) -> list[str]:
    if script(lang) == "cjk":
        return [c for c in text if not c.isspace()]
    return re.findall(r"\w+|[^\w\s]", text.lower())


def _max_ngram(units: Sequence[str], n: int, joiner: str) -> tuple[int, str]:
    if len(units) < n:
        return 0, ""
    counts = Counter(tuple(units[i : i + n]) for i in range(len(units) - n + 1))
    gram, count = counts.most_common(1)[0]
    return count, joiner.join(gram)


def loop(text: str, lang: str) -> str | None:
    """A unit repeated back to back three times or more (``阴性阳性阴性…``, ``(掌声)(掌声)…``)."""
    unit = r"(.{2,20}?)" if script(lang) == "cjk" else r"(\b\w[\w'’-]*(?:\W+\w[\w'’-]*){0,5}\W*?)"
    m = re.search(unit + r"(?:\s*\1){2,}", text, flags=re.IGNORECASE)
    return None if m is None else m.group(1).strip()


def repetition(source: str, target: str, src: str, dst: str) -> str | None:
    """A loop, or an n-gram repeated more often than anything in the source."""
    looped = loop(target, dst)
    if looped and not loop(source, src):
        return f"repeated: {looped}"
    cjk = script(dst) == "cjk"
    t_count, gram = _max_ngram(
        _units(PLACEHOLDER_RE.sub(" ", target), dst), 4 if cjk else 3, "" if cjk else " "
    )
    s_count, _ = _max_ngram(
        _units(PLACEHOLDER_RE.sub(" ", source), src), 4 if script(src) == "cjk" else 3, ""
    )
    if t_count >= 3 and t_count > s_count:
        return f"repeated {t_count}×: {gram}"
    return None


def untranslated(masked_source: str, masked_target: str, src: str, dst: str) -> str | None:
    """The model copied the source (or words of it) instead of translating."""
    source = PLACEHOLDER_RE.sub(" ", masked_source)
    target = PLACEHOLDER_RE.sub(" ", masked_target)
    if script(src) == "latin" and script(dst) == "cjk":
        copied = sorted({w for w in _LATIN_WORD.findall(target) if w in source})
        return f"copied: {' '.join(copied)}" if copied else None
    if script(src) == "cjk" and script(dst) == "latin":
        left = "".join(_CJK.findall(target))
        return f"copied: {left}" if left else None
    norm_s, norm_t = (" ".join(_units(x, src)) for x in (source, target))
    if (
        len(source.strip()) >= MIN_CHARS
        and norm_s == norm_t
        and len(_LATIN_WORD.findall(source)) >= 2
    ):
        return "identical to the source"
    return None


def length_ratio(source: str, target: str, src: str, dst: str) -> str | None:
    """The translation is far shorter or longer than translations usually are."""
    s, t = len(source.strip()), len(target.strip())
    if s < MIN_CHARS:
        return None
    expected = _RATIO[(script(src), script(dst))]
    ratio = t / s
    if ratio < expected / RATIO_SPREAD or ratio > expected * RATIO_SPREAD:
        return f"length {t} for {s} source characters (expected about {expected * s:.0f})"
    return None


def numbers(masked_source: str, masked_target: str) -> str | None:
    """Digits in the translation that the source does not have, or lost ones.

    Given masked texts, restored numbers are placeholders and do not count: what
    remains are digits the model wrote itself (or dropped outside masks).
    """
    s = Counter(_DIGITS.findall(PLACEHOLDER_RE.sub(" ", masked_source)))
    t = Counter(_DIGITS.findall(PLACEHOLDER_RE.sub(" ", masked_target)))
    if s == t:
        return None
    extra, lost = sorted((t - s).elements()), sorted((s - t).elements())
    parts = ([f"added {' '.join(extra)}"] if extra else []) + (
        [f"lost {' '.join(lost)}"] if lost else []
    )
    return ", ".join(parts)


def glossary_missing(
    source: str,
    target: str,
    glossary: Glossary,
    src: str,
    dst: str,
    convert: Callable[[str], str] | None = None,
) -> list[str]:
    """Glossary terms present in the source (also inside compounds) whose approved
    target form is missing from the translation."""
    out: list[str] = []
    low = source.lower()
    for form, term in glossary.owners(src, dst).items():
        if form.lower() not in low:
            continue
        want = term.form(dst)
        if want is None and dst == "zh-Hant":
            zh = term.form("zh")
            want = convert(zh) if convert and zh else zh
        if want and want.lower() not in target.lower() and want not in out:
            out.append(want)
    return out


def sentence_flags(
    *,
    source: str,
    target: str,
    masked_source: str,
    masked_target: str,
    src: str,
    dst: str,
    index: int,
    field: str,
    glossary: Glossary | None = None,
    convert: Callable[[str], str] | None = None,
) -> list[QualityFlag]:
    """Every check on one sentence (``source``/``target``: final texts)."""
    flags: list[QualityFlag] = []

    def add(kind: str, detail: str | None) -> None:
        if detail:
            flags.append(QualityFlag(kind, index, detail, field))

    add("repetition", repetition(source, target, src, dst))
    add("untranslated", untranslated(masked_source, masked_target, src, dst))
    add("length-ratio", length_ratio(source, target, src, dst))
    add("numbers", numbers(masked_source, masked_target))
    if glossary is not None:
        for term in glossary_missing(source, target, glossary, src, dst, convert):
            add("glossary", f"missing: {term}")
    return flags


def collapse_loops(text: str, lang: str) -> str:
    """Cut back-to-back repeats to one occurrence (last resort after retries)."""
    unit = r"(.{2,20}?)" if script(lang) == "cjk" else r"(\b\w[\w'’-]*(?:\W+\w[\w'’-]*){0,5}\W*?)"
    return re.sub(unit + r"(?:\s*\1){2,}", r"\1", text, flags=re.IGNORECASE)
