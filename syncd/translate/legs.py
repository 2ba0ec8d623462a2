"""What every engine does around one language leg. Contains no business logic.

``run_legs`` carries planned jobs through their legs (round k sends every job's k-th
leg, one group per package, so an engine batches per package); ``recall_first`` takes
from the translation memory what it knows before an engine translates the rest. The
engines (``engine.py`` local, ``libretranslate.py`` remote) give only how one group of
distinct texts is translated.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, MutableMapping, Sequence

from .. import logs
from ..errors import SyncdError, TranslateError
from . import TranslationMemory
from . import glossary as gl
from . import plan as pl
from .packages import PackageInfo

log = logs.get("syncd.translate")

#: translate distinct texts with one package: (text → translation, texts cut short)
Leg = Callable[[PackageInfo, Sequence[str]], tuple[dict[str, str], set[str]]]


def run_legs(jobs: Sequence[pl.Job], leg: Leg, group: Callable[[PackageInfo], Hashable]) -> None:
    """Every job through its legs; a failing group marks its jobs' ``error``, a
    translation that broke placeholders marks the job's ``problem``."""
    for k in range(max((len(j.legs) for j in jobs), default=0)):
        groups: dict[Hashable, list[pl.Job]] = {}
        for j in jobs:
            if len(j.legs) > k and not (j.problem or j.error):
                groups.setdefault(group(j.legs[k]), []).append(j)
        for members in groups.values():
            info = members[0].legs[k]
            inputs = [j.outs[-1] if j.outs else j.text for j in members]
            try:
                done, cut = leg(info, inputs)
            except TranslateError as exc:
                for j in members:
                    j.error = exc
                continue
            for j, text in zip(members, inputs, strict=True):
                j.outs.append(done[text])
                j.cut = j.cut or text in cut
                problems = gl.problems(done[text], j.placeholders) if j.placeholders >= 0 else []
                if problems:
                    j.problem = ", ".join(problems)


def recall_first(
    memory: TranslationMemory | None,
    ref: str,
    texts: Sequence[str],
    stats: MutableMapping[str, int],
) -> tuple[list[str], dict[str, str], list[str]]:
    """(distinct texts, what needs no model, what is left to translate): texts without
    words pass through, the memory answers what it knows (a memory that cannot be
    reached is logged and skipped, never fatal)."""
    uniq = list(dict.fromkeys(texts))
    done = {t: t for t in uniq if not pl.has_words(t)}  # only placeholders and punctuation
    todo = [t for t in uniq if t not in done]
    if todo and memory is not None:
        try:
            done.update(memory.recall(ref, todo))
        except SyncdError as exc:
            log.warning("memory-unavailable", error=str(exc))
        todo = [t for t in todo if t not in done]
    stats["recalled"] += len(uniq) - len(todo)
    return uniq, done, todo
