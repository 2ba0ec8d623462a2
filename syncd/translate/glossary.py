"""What must come out as given: glossary terms and protected tokens. Pure (``load``
only reads the one TOML file it is given).

Before translation, ``mask`` replaces every glossary term (Düren, Bürgermeister, …,
German inflected forms included: Dürens, des Bürgermeisters), URL, e-mail address,
phone number, date, time and number of a sentence by a numbered placeholder
(``⟦1⟧``, ``⟦2⟧``, …). The model translates the masked sentence; ``restore`` puts
back, for each placeholder, the approved form in the target language: the glossary's
term, the token unchanged (URLs, e-mail, phone), or the value written the target
language's way (``1.000,5`` → ``1,000.5``; ``1. Mai 2024`` → ``2024年5月1日``;
``14.30 Uhr`` → ``14:30``). ``problems`` says when the model dropped, duplicated or
invented a placeholder, so that the caller can fall back for that sentence.

Glossary file format: see ``config/glossary.toml`` (every key is documented there).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .segment import EMAIL_RE, URL_RE

LANGUAGES = ("de", "en", "zh", "zh-Hant")
TOP_KEYS = ("keep", "term")
TERM_KEYS = (*LANGUAGES, "inflect", "note")
#: Endings a German noun or name may take (Dürens, des Bürgermeisters, den Partnerstädten).
DE_ENDINGS = ("s", "es", "n", "en", "e", "er", "ern", "ns")
PLACEHOLDER_RE = re.compile(r"⟦\s*(\d{1,3})\s*⟧")


def placeholder(n: int) -> str:
    return f"⟦{n}⟧"


# --------------------------------------------------------------------------- glossary


@dataclass(frozen=True)
class Term:
    """One concept: its approved form(s) per language (the first form is the one written)."""

    forms: Mapping[str, tuple[str, ...]]
    inflect: bool = True  # German forms also match with inflection endings
    keep: bool = False  # written the same in every language

    def form(self, lang: str) -> str | None:
        if self.keep:
            return next(iter(self.forms.values()))[0]
        got = self.forms.get(lang)
        return got[0] if got else None

    def label(self) -> str:
        return next(iter(self.forms.values()))[0]


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    term: Term


class Glossary:
    """Terms to enforce, matched longest first, case-sensitively."""

    def __init__(self, terms: Sequence[Term] = ()) -> None:
        self.terms = tuple(terms)
        self._compiled: dict[tuple[str, str], list[tuple[re.Pattern[str], Term]]] = {}

    def __len__(self) -> int:
        return len(self.terms)

    def applies(self, term: Term, src: str, dst: str) -> bool:
        if term.keep:
            return True
        return src in term.forms and (
            dst in term.forms or (dst == "zh-Hant" and "zh" in term.forms)
        )

    def source_forms(self, term: Term, src: str) -> tuple[str, ...]:
        return tuple(f for fs in term.forms.values() for f in fs) if term.keep else term.forms[src]

    def _compile(self, src: str, dst: str) -> list[tuple[re.Pattern[str], Term]]:
        if (src, dst) not in self._compiled:
            self._compiled[(src, dst)] = [
                (re.compile(_form_regex(f, "" if t.keep else src, t.inflect)), t)
                for f, t in self.owners(src, dst).items()
            ]
        return self._compiled[(src, dst)]

    def owners(self, src: str, dst: str) -> dict[str, Term]:
        """Each source form that applies to src → dst and the term it stands for (a
        form listed in several terms belongs to the first)."""
        first: dict[str, Term] = {}
        for t in self.terms:
            if self.applies(t, src, dst):
                for f in self.source_forms(t, src):
                    first.setdefault(f, t)
        return first

    def find(self, text: str, src: str, dst: str) -> list[Hit]:
        """Term occurrences in ``text`` for translating src → dst: of overlapping
        candidates, the choice that covers the most text (Chinese has no spaces:
        金华市长 is 金华 + 市长, not 金华市 + 长)."""
        hits = [
            Hit(m.start(), m.end(), term)
            for pat, term in self._compile(src, dst)
            for k in range(len(text))
            if (m := pat.match(text, k)) is not None and m.end() > m.start()
        ]
        return _best_cover(hits)


def _best_cover(hits: list[Hit]) -> list[Hit]:
    """Non-overlapping hits with the largest total length (weighted interval scheduling)."""
    if not hits:
        return []
    hits = sorted(hits, key=lambda h: (h.end, h.start))
    ends = [h.end for h in hits]
    best: list[tuple[int, int, list[Hit]]] = [(0, 0, [])]  # (covered, -count, chosen)
    for i, h in enumerate(hits):
        j = bisect.bisect_right(ends, h.start, 0, i)  # hits[:j] end before h starts
        covered, neg, chosen = best[j]
        take = (covered + h.end - h.start, neg - 1, [*chosen, h])
        best.append(max(best[i], take, key=lambda b: (b[0], b[1])))
    return best[-1][2]


def _form_regex(form: str, lang: str, inflect: bool) -> str:
    body = re.escape(form)
    if lang.startswith("zh") or not (form[:1].isalnum() or form[-1:].isalnum()):
        return body
    ending = "(?:" + "|".join(DE_ENDINGS) + ")?" if lang == "de" and inflect else ""
    return rf"(?<![\w-]){body}{ending}(?![\w-])"


def empty() -> Glossary:
    return Glossary()


def load(path: Path) -> Glossary:
    """Read a glossary TOML file; a bad file raises ``ConfigError(path, key, reason)``."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read glossary: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from exc
    return parse(data, path)


def parse(data: Mapping[str, Any], path: object = "<glossary>") -> Glossary:
    for k in data:
        if k not in TOP_KEYS:
            raise ConfigError(path, k, f"unknown key; expected one of: {', '.join(TOP_KEYS)}")
    terms: list[Term] = []
    keep = data.get("keep", [])
    if not isinstance(keep, list):
        raise ConfigError(path, "keep", "expected a list of strings")
    for i, k in enumerate(keep):
        where = f"keep[{i}]"
        form = _form(path, where, k)
        terms.append(Term({"*": (form,)}, inflect=False, keep=True))
    raw_terms = data.get("term", [])
    if not isinstance(raw_terms, list):
        raise ConfigError(path, "term", "expected [[term]] tables")
    for i, raw in enumerate(raw_terms):
        where = f"term[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(path, where, "expected a table")
        forms: dict[str, tuple[str, ...]] = {}
        inflect = True
        for k, v in raw.items():
            if k == "inflect":
                if not isinstance(v, bool):
                    raise ConfigError(
                        path, f"{where}.inflect", f"expected true or false, got {v!r}"
                    )
                inflect = v
            elif k == "note":
                if not isinstance(v, str):
                    raise ConfigError(path, f"{where}.note", "expected a string")
            elif k in LANGUAGES:
                values = v if isinstance(v, list) else [v]
                if not values:
                    raise ConfigError(
                        path, f"{where}.{k}", "expected a string or a non-empty list of strings"
                    )
                forms[k] = tuple(_form(path, f"{where}.{k}", x) for x in values)
            else:
                raise ConfigError(
                    path,
                    f"{where}.{k}",
                    f"unknown key; expected a language ({', '.join(LANGUAGES)}), inflect or note",
                )
        if len(forms) < 2:
            raise ConfigError(
                path,
                where,
                "a term needs forms in at least two languages (use keep = [...] for names)",
            )
        terms.append(Term(forms, inflect=inflect))
    return Glossary(terms)


def _form(path: object, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, where, f"expected a non-empty string, got {value!r}")
    if "⟦" in value or "⟧" in value:
        raise ConfigError(path, where, "⟦ and ⟧ are reserved for placeholders")
    return value.strip()


# ---------------------------------------------------------------------------- tokens

_MONTHS_DE = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
              "September", "Oktober", "November", "Dezember")  # fmt: skip
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")  # fmt: skip
_NB = r"(?<![A-Za-z0-9_.,])"  # number start: not inside a word or another number
_NE = r"(?![A-Za-z0-9_]|[.,]\d)"  # number end


@dataclass(frozen=True)
class Token:
    """One protected thing in a source sentence: what it was and how to write it."""

    kind: str  # term | url | email | phone | date | time | number
    source: str
    term: Term | None = None
    # date: (year | 0, month, day); time: (hour, minute | -1); number: (int, frac, grouped)
    value: tuple[Any, ...] = ()
    lang: str = ""  # the source language: written there, a token stays as it was


def _patterns(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    base = lang.split("-")[0]
    common = [
        ("url", URL_RE),
        ("email", EMAIL_RE),
        ("date", re.compile(_NB + r"(\d{4})-(\d{2})-(\d{2})" + _NE)),
    ]
    if base == "de":
        months = "|".join(_MONTHS_DE)
        return common + [
            (
                "phone",
                re.compile(
                    r"(?<![\w+])(?:\+\d{1,3}[ \-]?(?:\(0\)[ ]?)?\d|0\d)[\d /\-]{5,}\d(?!\w)"
                ),
            ),
            ("date", re.compile(_NB + r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})" + _NE)),
            ("date", re.compile(_NB + rf"(\d{{1,2}})\.\s?({months})(?:\s(\d{{4}}))?(?!\w)")),
            ("time", re.compile(_NB + r"(\d{1,2})(?:[:.](\d{2}))?\s?Uhr(?!\w)")),
            ("time", re.compile(_NB + r"(\d{1,2}):(\d{2})" + _NE)),
            ("number", re.compile(_NB + r"\d{1,3}(?:\.\d{3})+(?:,\d+)?" + _NE)),
            ("number", re.compile(_NB + r"\d+(?:,\d+)?" + _NE)),
        ]
    if base == "zh":
        return common + [
            (
                "phone",
                re.compile(
                    r"(?<![\d+])(?:\+\d{1,3}[ \-]?)?(?:0\d{2,3}[ \-]?\d{7,8}|1[3-9]\d{9})(?!\d)"
                ),
            ),
            ("date", re.compile(r"(?<!\d)(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]")),
            ("time", re.compile(r"(?<!\d)(\d{1,2})时(?:(\d{1,2})分)?")),
            ("time", re.compile(r"(?<![\d.])(\d{1,2}):(\d{2})(?![\d])")),
            (
                "number",
                re.compile(r"(?<![A-Za-z0-9_.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d]|[.,]\d)"),
            ),
            ("number", re.compile(r"(?<![A-Za-z0-9_.,])\d+(?:\.\d+)?(?![\d]|[.,]\d)")),
        ]
    return common + [
        ("phone", re.compile(r"(?<![\w+])\+\d{1,3}[\d \-]{6,}\d(?!\w)")),
        ("time", re.compile(_NB + r"(\d{1,2}):(\d{2})" + _NE)),
        ("number", re.compile(_NB + r"\d{1,3}(?:,\d{3})+(?:\.\d+)?" + _NE)),
        ("number", re.compile(_NB + r"\d+(?:\.\d+)?" + _NE)),
    ]


def _token(kind: str, m: re.Match[str], lang: str) -> Token | None:
    s = m.group()
    if kind == "date":
        g = m.groups()
        if "-" in s:
            y, mo, d = int(g[0]), int(g[1]), int(g[2])
        elif lang.startswith("zh"):
            y, mo, d = int(g[0] or 0), int(g[1]), int(g[2])
        elif g[1].isdigit():
            d, mo, y = int(g[0]), int(g[1]), int(g[2])
            y = y + 2000 if y < 100 else y
        else:
            d, mo, y = int(g[0]), _MONTHS_DE.index(g[1]) + 1, int(g[2] or 0)
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return None
        return Token("date", s, value=(y, mo, d))
    if kind == "time":
        h, mi = int(m.group(1)), int(m.group(2)) if m.group(2) else -1
        if h > 24 or mi > 59:
            return None
        return Token("time", s, value=(h, mi))
    if kind == "number":
        dec, group = (",", ".") if lang == "de" else (".", ",")
        whole, _, frac = s.partition(dec)
        grouped = group in whole
        return Token("number", s, value=(whole.replace(group, ""), frac, grouped))
    if kind == "phone" and sum(c.isdigit() for c in s) < 7:
        return None
    return Token(kind, s)


def render(token: Token, lang: str, convert: Callable[[str], str] | None = None) -> str:
    """How ``token`` is written in ``lang`` (``convert``: zh → zh-Hant for terms)."""
    base = lang.split("-")[0]
    if token.lang == lang or (token.kind != "term" and token.lang.split("-")[0] == base):
        return token.source  # nothing to translate: as written
    if token.kind == "term":
        assert token.term is not None
        form = token.term.form(lang)
        if form is None and lang == "zh-Hant":
            zh = token.term.form("zh")
            form = convert(zh) if (convert and zh) else zh
        return form if form is not None else token.source
    if token.kind in ("url", "email", "phone"):
        return token.source
    if token.kind == "number":
        whole, frac, grouped = (str(token.value[0]), str(token.value[1]), bool(token.value[2]))
        dec, group = (",", ".") if base == "de" else (".", ",")
        if grouped and len(whole) > 3:
            head = len(whole) % 3 or 3
            whole = whole[:head] + "".join(
                group + whole[i : i + 3] for i in range(head, len(whole), 3)
            )
        return whole + (dec + frac if frac else "")
    if token.kind == "date":
        y, mo, d = token.value
        if base == "zh":
            return (f"{y}年" if y else "") + f"{mo}月{d}日"
        if base == "de":
            return f"{d}. {_MONTHS_DE[mo - 1]}" + (f" {y}" if y else "")
        return f"{d} {_MONTHS_EN[mo - 1]}" + (f" {y}" if y else "")
    if token.kind == "time":
        h, mi = token.value
        if base == "de":
            return f"{h} Uhr" if mi < 0 else f"{h}.{mi:02d} Uhr"
        if base == "zh" and mi < 0:
            return f"{h}时"
        return f"{h}:{max(mi, 0):02d}"
    raise ValueError(f"unknown token kind {token.kind!r}")


# ---------------------------------------------------------------------------- masking


@dataclass(frozen=True)
class Masked:
    """A sentence with placeholders; ``tokens[i]`` stands behind ``⟦i+1⟧``."""

    text: str
    tokens: tuple[Token, ...] = ()

    def pieces(self) -> list[str | Token]:
        """The masked text cut at its placeholders (for piecewise fallback)."""
        out: list[str | Token] = []
        pos = 0
        for m in PLACEHOLDER_RE.finditer(self.text):
            out.append(self.text[pos : m.start()])
            out.append(self.tokens[int(m.group(1)) - 1])
            pos = m.end()
        out.append(self.text[pos:])
        return out


def mask(text: str, src: str, dst: str, glossary: Glossary | None = None) -> Masked:
    """Replace terms and tokens of ``text`` by placeholders ``⟦1⟧…`` in reading order."""
    found: list[tuple[int, int, Token]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y, _ in found)

    for kind, pat in _patterns(src):
        for m in pat.finditer(text):
            if free(m.start(), m.end()):
                tok = _token(kind, m, src)
                if tok is not None:
                    found.append((m.start(), m.end(), dataclasses.replace(tok, lang=src)))
    if glossary is not None:
        for hit in glossary.find(text, src, dst):
            if free(hit.start, hit.end):
                found.append(
                    (
                        hit.start,
                        hit.end,
                        Token("term", text[hit.start : hit.end], term=hit.term, lang=src),
                    )
                )
    if not found:
        return Masked(text)
    found.sort(key=lambda f: f[0])
    out: list[str] = []
    pos = 0
    for n, (a, b, _tok) in enumerate(found, 1):
        out.append(text[pos:a])
        out.append(placeholder(n))
        pos = b
    out.append(text[pos:])
    return Masked("".join(out), tuple(f[2] for f in found))


def problems(output: str, count: int) -> list[str]:
    """What is wrong with the placeholders of a model's output (empty: all fine)."""
    ids = Counter(int(m.group(1)) for m in PLACEHOLDER_RE.finditer(output))
    out = [f"{placeholder(i)} dropped" for i in range(1, count + 1) if ids[i] == 0]
    out += [f"{placeholder(i)} repeated" for i in range(1, count + 1) if ids[i] > 1]
    out += [f"{placeholder(i)} invented" for i in ids if not 1 <= i <= count]
    if ("⟦" in output or "⟧" in output) and not out and output.count("⟦") != sum(ids.values()):
        out.append("broken placeholder")
    return out


_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


_CJK_CHAR = "\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"


def restore(
    output: str, masked: Masked, lang: str, convert: Callable[[str], str] | None = None
) -> str:
    """Put the approved forms back (call only when ``problems`` is empty).

    Spacing follows the target: no spaces between Chinese characters and a restored
    Chinese form; a space between a restored form and a Latin word it touches.
    """

    def sub(m: re.Match[str]) -> str:
        return "\x00" + render(masked.tokens[int(m.group(1)) - 1], lang, convert) + "\x01"

    text = PLACEHOLDER_RE.sub(sub, output)
    if all(t.lang == lang for t in masked.tokens):
        pass  # nothing was translated: spacing stays as written
    elif lang.split("-")[0] == "zh":
        text = re.sub(f"(?<=[{_CJK_CHAR}\x01]) +(?=\x00[{_CJK_CHAR}])", "", text)
        text = re.sub(f"(?<=[{_CJK_CHAR}]\x01) +(?=[{_CJK_CHAR}\x00])", "", text)
    else:
        text = re.sub(
            r"(?<=[^\W_])\x00|\x01(?=[^\W_])",
            lambda m: " " + m.group() if m.group() == "\x00" else m.group() + " ",
            text,
        )
    return text.replace("\x00", "").replace("\x01", "")


def strip_placeholders(text: str) -> str:
    """Last line of defence: no placeholder ever reaches an editor."""
    return re.sub(r"\s*⟦\s*\d*\s*⟧\s*", " ", text).replace("⟦", "").replace("⟧", "").strip()
