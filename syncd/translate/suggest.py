"""Glossary suggestions from editors' corrections. Pure: no I/O.

When editors correct the same term the same way again and again (the models write
"市长" and editors "市委书记", or "Oberbürgermeister" for "Bürgermeister"), the term
belongs in the glossary. ``suggestions`` compares each corrected sentence with what the
models had made of it (characters for Chinese, words otherwise), counts every
replacement of a short span by another, and offers those made ``min_count`` times or
more, most frequent first, with a source sentence each as an example. The desk shows
them with the ``[[term]]`` lines for ``glossary.toml``; an editor (or the operator)
adds the source form and pastes them in.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

#: longest span (characters) still taken for a term
MAX_TERM = 24
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
#: Chinese: each Han character a token, but a run of Latin letters or digits one word
_ZH = re.compile(r"[^\W\u3400-\u9fff\uf900-\ufaff]+|\S", re.UNICODE)


@dataclass(frozen=True)
class Correction:
    source: str  # the source sentence
    machine: str  # the models' sentence
    editor: str  # the editor's sentence


@dataclass(frozen=True)
class Suggestion:
    machine: str  # what the models wrote
    editor: str  # what editors wrote instead
    count: int
    example: str  # a source sentence where it happened


def _tokens(text: str, language: str) -> list[str]:
    if language.split("-")[0] == "zh":
        return _ZH.findall(text)
    return _WORD.findall(text)


def _join(tokens: Sequence[str], language: str) -> str:
    if language.split("-")[0] != "zh":
        return " ".join(tokens)
    out = ""
    for tok in tokens:  # a space only between two Latin words, as they were written
        if (
            out
            and out[-1].isascii()
            and out[-1].isalnum()
            and tok[:1].isascii()
            and tok[:1].isalnum()
        ):
            out += " "
        out += tok
    return out


def replacements(machine: str, editor: str, language: str) -> list[tuple[str, str]]:
    """The short spans the editor replaced: (models' span, editor's span)."""
    a, b = _tokens(machine, language), _tokens(editor, language)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op != "replace":
            continue
        old, new = _join(a[i1:i2], language), _join(b[j1:j2], language)
        if old.strip() and new.strip() and len(old) <= MAX_TERM and len(new) <= MAX_TERM:
            out.append((old, new))
    return out


def suggestions(
    corrections: Sequence[Correction], language: str, min_count: int = 2
) -> list[Suggestion]:
    """Replacements editors made at least ``min_count`` times (see the module docstring)."""
    counts: dict[tuple[str, str], int] = {}
    example: dict[tuple[str, str], str] = {}
    for c in corrections:
        for pair in dict.fromkeys(replacements(c.machine, c.editor, language)):
            counts[pair] = counts.get(pair, 0) + 1
            example.setdefault(pair, c.source)
    found = [
        Suggestion(old, new, n, example[(old, new)])
        for (old, new), n in counts.items()
        if n >= min_count
    ]
    return sorted(found, key=lambda s: (-s.count, s.machine))


def toml_lines(s: Suggestion, target_language: str, source_language: str) -> str:
    """The ``[[term]]`` entry for ``glossary.toml`` (the source form left to fill in)."""
    lang = f'"{target_language}"' if "-" in target_language else target_language
    src = f'"{source_language}"' if "-" in source_language else source_language
    editor = s.editor.replace("\\", "\\\\").replace('"', '\\"')
    return f'[[term]]\n{src} = ""  # the source form\n{lang} = "{editor}"'
