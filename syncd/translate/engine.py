"""The Argos engine: installed Argos packages, driven directly through CTranslate2
and SentencePiece, batched across every item of a sync pass.

``ArgosEngine.translate(requests)``::

    refresh the package list if the models folder changed (a few stat calls)
    for each request: route (direct package, else two legs through English) or
        ModelMissing; title, summary and body → sentences (segment) → masked
        units (glossary: terms, URLs, numbers, … become ⟦n⟧); inline markup spans
        are units too
    run all units leg by leg: round 1 = every first leg (de→en for everything),
        round 2 = every second leg (en→zh for everything); per package, one
        ``translate_batch`` over the distinct sentences the memory does not know
    a unit whose placeholders come back dropped or repeated is translated again
        in pieces around its placeholders (batched as well), and flagged
    restore approved forms, convert to Traditional when asked (OpenCC), put inline
        markup back, reassemble blocks, sanitize, check each sentence (flags)

Decoding guards: the decoding length is bounded relative to the source; an output
that hits the bound or loops (``阴性阳性阴性…``) is decoded again with a repetition
penalty, then in two halves, and as a last resort its loop is cut back and flagged;
sentences over the model's 256-piece limit are cut at clause boundaries first.

Documented differences from ``argostranslate.translate`` (each has a test): ``_``
stays ``_``; placeholders for names and numbers; sentences split by syncd's rules
(offline, markup-aware) rather than argos's downloaded splitter; bounded decoding.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import logs
from ..config import ModelsConfig
from ..errors import ModelMissing, SyncdError, TranslateError
from ..models import QualityFlag, Translation
from ..sanitize import clean_html
from . import TranslationMemory, TranslationRequest, checks, models
from . import glossary as gl
from . import segment as seg

log = logs.get(__name__)

MAX_SOURCE_PIECES = 250  # Argos models take < 256 pieces (with </s>)
MAX_DECODE = 384
LENGTH_FACTOR = 2.0  # max_decoding_length = factor × source pieces + extra
LENGTH_EXTRA = 10
LENGTH_PENALTY = 0.2  # as argostranslate
RETRY_REPETITION_PENALTY = 1.3
TRADITIONAL = "s2t"  # OpenCC configuration for zh-Hant output
FIELDS = ("title", "summary", "body")


@dataclass
class _Loaded:
    info: models.PackageInfo
    translator: Any  # ctranslate2.Translator


@dataclass(frozen=True)
class _Out:
    text: str
    runaway: bool  # decoding stopped at the length bound


@dataclass
class _Job:
    """One text through a route's legs."""

    legs: list[models.PackageInfo]
    text: str  # masked source, normalized
    placeholders: int  # how many the text has; -1: do not check
    outs: list[str] = field(default_factory=list)  # text after each leg
    problem: str = ""  # placeholders dropped or repeated
    error: TranslateError | None = None
    cut: bool = False  # a loop had to be cut back


@dataclass
class _Unit:
    """A sentence or an inline span's text, masked, with its job(s)."""

    masked: gl.Masked
    job: _Job
    pieces: list[str | gl.Token] = field(default_factory=list)  # fallback: masked.pieces()
    piece_jobs: list[_Job | None] = field(default_factory=list)


@dataclass
class _Field:
    name: str
    doc: seg.Document
    html: bool
    units: dict[int, tuple[_Unit, list[_Unit | None]]] = field(default_factory=dict)


@dataclass
class _Plan:
    request: TranslationRequest
    legs: list[models.PackageInfo]
    src: str  # Argos code of the source (zh for zh-Hant)
    fields: list[_Field]


def normalize(text: str) -> str:
    """The form sentences are translated and remembered in."""
    return " ".join(unicodedata.normalize("NFC", text).split())


class ArgosEngine:
    """A ``Translator`` over the Argos packages installed in ``models_dir``."""

    def __init__(
        self,
        models_dir: Path,
        config: ModelsConfig,
        *,
        glossary: gl.Glossary | None = None,
        memory: TranslationMemory | None = None,
    ) -> None:
        self.models_dir = Path(models_dir)
        self.config = config
        self.glossary = glossary if glossary is not None else gl.Glossary()
        self.memory = memory
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._seen: tuple[tuple[str, str], ...] | None = None
        self._packages: list[models.PackageInfo] = []
        self._loaded: dict[tuple[Path, str], _Loaded] = {}
        self._opencc: dict[str, Any] = {}

    # ---------------------------------------------------------------- packages

    def _refresh(self) -> list[models.PackageInfo]:
        """Notice installed, updated and removed packages (no restart needed)."""
        with self._lock:
            seen = models.fingerprint(self.models_dir)
            if seen != self._seen:
                self._packages = models.installed(self.models_dir)
                current = {(p.path, p.stamp) for p in self._packages}
                for key in [k for k in self._loaded if k not in current]:
                    log.info("model-unloaded", path=str(key[0]))
                    del self._loaded[key]
                self._seen = seen
            return self._packages

    def _load(self, info: models.PackageInfo) -> _Loaded:
        key = (info.path, info.stamp)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = self._open(info)
            return self._loaded[key]

    def _open(self, info: models.PackageInfo) -> _Loaded:
        import ctranslate2

        _limit_malloc_arenas()

        compute = self.config.compute_type
        if compute not in ctranslate2.get_supported_compute_types("cpu"):
            compute = "default"  # the type the model was saved with
        try:
            translator = ctranslate2.Translator(
                str(info.path / "model"),
                device="cpu",
                compute_type=compute,
                inter_threads=max(1, self.config.inter_threads),
                intra_threads=self.config.intra_threads,
            )
            _tokenizer(info)  # fails now rather than mid-pass
        except (OSError, RuntimeError, ValueError) as exc:
            raise TranslateError(
                f"model {info.ref} at {info.path} cannot be loaded: {exc}"
            ) from exc
        log.info("model-loaded", model=info.ref, compute_type=compute)
        return _Loaded(info, translator)

    def missing(self, source_language: str, target_language: str) -> list[str]:
        packages = self._refresh()
        if models.code_of(source_language) == models.code_of(target_language):
            return []
        if models.route(packages, source_language, target_language) is not None:
            return []
        return [_missing(source_language, target_language).args[0]]

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()

    # -------------------------------------------------------------- translation

    def translate(
        self, requests: Sequence[TranslationRequest]
    ) -> list[Translation | TranslateError]:
        packages = self._refresh()
        plans: list[_Plan | TranslateError] = []
        for req in requests:
            src, dst = models.code_of(req.source_language), models.code_of(req.target_language)
            legs = [] if src == dst else models.route(packages, src, dst)
            if legs is None:
                plans.append(_missing(req.source_language, req.target_language))
            else:
                plans.append(self._plan(req, legs, src))
        units = [u for p in plans if isinstance(p, _Plan) for u in _plan_units(p)]
        self._run([u.job for u in units])
        for u in units:  # placeholders broken: translate the pieces between them
            if u.job.problem:
                u.pieces = u.masked.pieces()
                u.piece_jobs = [
                    _Job(u.job.legs, normalize(p), -1)  # -1: stray ⟦ ⟧ are stripped later
                    if isinstance(p, str) and _has_words(p)
                    else None
                    for p in u.pieces
                ]
        self._run([j for u in units for j in u.piece_jobs if j is not None])
        out: list[Translation | TranslateError] = []
        for p in plans:
            out.append(p if isinstance(p, TranslateError) else self._assemble(p))
        return out

    def _plan(self, req: TranslationRequest, legs: list[models.PackageInfo], src: str) -> _Plan:
        def prepare(text: str) -> str:
            return self._convert("t2s", text) if req.source_language == "zh-Hant" else text

        fields = [
            _Field("title", seg.parse_text(prepare(req.title), src), False),
            _Field("summary", seg.parse_text(prepare(req.summary), src), False),
            _Field("body", seg.parse(prepare(req.body_html), src), True),
        ]
        plan = _Plan(req, legs, src, fields)
        for f in fields:
            for i, sentence in enumerate(f.doc.sentences()):
                whole = self._unit(plan, sentence.text)
                spans = [
                    None if sentence.is_whole(sp) else self._unit(plan, sentence.span_text(sp))
                    for sp in sentence.spans
                ]
                f.units[i] = (whole, spans)
        return plan

    def _unit(self, plan: _Plan, text: str) -> _Unit:
        masked = gl.mask(normalize(text), plan.src, plan.request.target_language, self.glossary)
        return _Unit(masked, _Job(plan.legs, masked.text, len(masked.tokens)))

    def _convert(self, config: str, text: str) -> str:
        if config not in self._opencc:
            import opencc

            self._opencc[config] = opencc.OpenCC(config)
        return str(self._opencc[config].convert(text))

    # ------------------------------------------------------------------ running

    def _run(self, jobs: Sequence[_Job]) -> None:
        """Every job through its legs: one batch per package per round."""
        for k in range(max((len(j.legs) for j in jobs), default=0)):
            groups: dict[tuple[Path, str], list[_Job]] = {}
            for j in jobs:
                if len(j.legs) > k and not (j.problem or j.error):
                    groups.setdefault((j.legs[k].path, j.legs[k].stamp), []).append(j)
            for group in groups.values():
                info = group[0].legs[k]
                inputs = [j.outs[-1] if j.outs else j.text for j in group]
                try:
                    done, cut = self._leg(info, inputs)
                except TranslateError as exc:
                    for j in group:
                        j.error = exc
                    continue
                for j, text in zip(group, inputs, strict=True):
                    j.outs.append(done[text])
                    j.cut = j.cut or text in cut
                    problems = (
                        gl.problems(done[text], j.placeholders) if j.placeholders >= 0 else []
                    )
                    if problems:
                        j.problem = ", ".join(problems)

    def _leg(
        self, info: models.PackageInfo, texts: Sequence[str]
    ) -> tuple[dict[str, str], set[str]]:
        """Translate distinct texts with one package, using and feeding the memory."""
        uniq = list(dict.fromkeys(texts))
        done = {t: t for t in uniq if not _has_words(t)}  # only placeholders and punctuation
        todo = [t for t in uniq if t not in done]
        if todo and self.memory is not None:
            try:
                done.update(self.memory.recall(info.ref, todo))
            except SyncdError as exc:
                log.warning("memory-unavailable", error=str(exc))
            todo = [t for t in todo if t not in done]
        self.stats["recalled"] += len(uniq) - len(todo)
        cut: set[str] = set()
        if todo:
            started = time.monotonic()
            model = self._load(info)
            try:
                fresh, cut = self._decode(model, todo)
            except (OSError, RuntimeError, ValueError) as exc:
                raise TranslateError(f"model {info.ref} failed: {exc}") from exc
            self.stats["translated"] += len(todo)
            log.info(
                "leg-translated",
                model=info.ref,
                sentences=len(uniq),
                translated=len(todo),
                loops_cut=len(cut),
                seconds=round(time.monotonic() - started, 3),
            )
            done.update(fresh)
            if self.memory is not None:
                try:
                    self.memory.remember(info.ref, {s: t for s, t in fresh.items() if s not in cut})
                except SyncdError as exc:
                    log.warning("memory-unavailable", error=str(exc))
        return done, cut

    def _decode(self, model: _Loaded, texts: Sequence[str]) -> tuple[dict[str, str], set[str]]:
        """One batch for all texts; loops and runaways decoded again."""
        dst = model.info.to_code
        sp = _tokenizer(model.info)
        chunked = [
            seg.split_long(t, lambda c: len(sp.encode(c)) > MAX_SOURCE_PIECES) for t in texts
        ]
        flat = [c for cs in chunked for c in cs]
        src = model.info.from_code
        outs = self._batch(model, sp, flat)
        retry = [i for i, c in enumerate(flat) if _bad(c, outs[i], src, dst)]
        if retry:  # other decoding settings
            self.stats["retried"] += len(retry)
            again = self._batch(model, sp, [flat[i] for i in retry], retry=True)
            for i, o in zip(retry, again, strict=True):
                outs[i] = o
            retry = [i for i in retry if _bad(flat[i], outs[i], src, dst)]
        cut_chunks: set[int] = set()
        if retry:  # smaller chunks: each half alone
            halves = [seg.halves(flat[i]) for i in retry]
            parts = self._batch(model, sp, [h for hs in halves for h in hs], retry=True)
            pos = 0
            for i, hs in zip(retry, halves, strict=True):
                joined = seg.join_sentences([p.text for p in parts[pos : pos + len(hs)]], dst)
                outs[i] = _Out(joined, any(p.runaway for p in parts[pos : pos + len(hs)]))
                pos += len(hs)
                if _bad(flat[i], outs[i], src, dst):
                    outs[i] = _Out(checks.collapse_loops(outs[i].text, dst), False)
                    cut_chunks.add(i)
        result: dict[str, str] = {}
        cut: set[str] = set()
        pos = 0
        for t, cs in zip(texts, chunked, strict=True):
            result[t] = seg.join_sentences([o.text for o in outs[pos : pos + len(cs)]], dst)
            if any(k in cut_chunks for k in range(pos, pos + len(cs))):
                cut.add(t)
            pos += len(cs)
        return result, cut

    def _batch(
        self, model: _Loaded, sp: Any, texts: Sequence[str], *, retry: bool = False
    ) -> list[_Out]:
        if not texts:
            return []
        tokens = [sp.encode(t, out_type=str) for t in texts]
        longest = max(len(t) for t in tokens)
        options: dict[str, Any] = {}
        if model.info.target_prefix:
            options["target_prefix"] = [[model.info.target_prefix]] * len(tokens)
        if retry:
            options["repetition_penalty"] = RETRY_REPETITION_PENALTY
        self.stats["batches"] += 1
        results = model.translator.translate_batch(
            tokens,
            beam_size=max(1, self.config.beam_size),
            max_batch_size=self._batch_tokens(),
            batch_type="tokens",
            length_penalty=LENGTH_PENALTY,
            replace_unknowns=True,
            max_decoding_length=_bound(longest),
            num_hypotheses=1,
            **options,
        )
        _release_memory()
        return [
            _Out(
                _decode_pieces(model.info, sp, r.hypotheses[0]),
                len(r.hypotheses[0]) >= _bound(len(t)),
            )
            for r, t in zip(results, tokens, strict=True)
        ]

    def _batch_tokens(self) -> int:
        """CTranslate2's batch size in source tokens: ``max_batch_tokens`` counts the
        tokens being decoded, every beam included, because that is what decoding
        memory grows with (docs/performance.md); so changing the beam size keeps the
        memory bound."""
        return max(1, self.config.max_batch_tokens // max(1, self.config.beam_size))

    # --------------------------------------------------------------- assembling

    def _assemble(self, plan: _Plan) -> Translation | TranslateError:
        req = plan.request
        dst = req.target_language
        pivot = len(plan.legs) == 2
        for f in plan.fields:
            for whole, spans in f.units.values():
                for u in [whole, *spans]:
                    if u is not None:
                        err = u.job.error or next(
                            (j.error for j in u.piece_jobs if j and j.error), None
                        )
                        if err is not None:
                            return err
        flags: list[QualityFlag] = []
        texts: dict[str, str] = {}
        pivots: dict[str, str] = {}
        for f in plan.fields:
            sentences = f.doc.sentences()
            target_html: dict[int, str] = {}
            pivot_html: dict[int, str] = {}
            for i, sentence in enumerate(sentences):
                whole, spans = f.units[i]
                masked_target = self._masked_out(whole, -1, dst)
                target = self._restore(masked_target, whole, dst)
                flags += self._flags(plan, f.name, i, sentence.text, target, whole, masked_target)
                placed = seg.inject(
                    sentence,
                    target,
                    [
                        target if s is None else self._restore(self._masked_out(s, -1, dst), s, dst)
                        for s in spans
                    ],
                    dst,
                )
                if placed.moved or placed.dropped:
                    what = (
                        "link placed after the sentence" if placed.moved else "formatting dropped"
                    )
                    flags.append(QualityFlag("placeholder", i, what, f.name))
                target_html[i] = placed.html if f.html else target
                if pivot:
                    en = self._restore(self._masked_out(whole, 0, "en"), whole, "en")
                    en_spans = [
                        en if s is None else self._restore(self._masked_out(s, 0, "en"), s, "en")
                        for s in spans
                    ]
                    pivot_html[i] = seg.inject(sentence, en, en_spans, "en").html if f.html else en
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
        )

    def _masked_out(self, unit: _Unit, leg: int, lang: str) -> str:
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
        return self._convert(TRADITIONAL, text) if lang == "zh-Hant" else text

    def _restore(self, masked_text: str, unit: _Unit, lang: str) -> str:
        def convert(s: str) -> str:
            return self._convert(TRADITIONAL, s)

        return gl.strip_placeholders(gl.restore(masked_text, unit.masked, lang, convert))

    def _flags(
        self,
        plan: _Plan,
        field_name: str,
        i: int,
        source: str,
        target: str,
        unit: _Unit,
        masked_target: str,
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
            glossary=self.glossary,
            convert=lambda s: self._convert(TRADITIONAL, s),
        )
        if unit.job.problem:
            flags.append(
                QualityFlag(
                    "placeholder", i, f"{unit.job.problem}: translated in pieces", field_name
                )
            )
        jobs = [unit.job, *(j for j in unit.piece_jobs if j is not None)]
        if any(j.cut for j in jobs) and not any(f.kind == "repetition" for f in flags):
            flags.append(QualityFlag("repetition", i, "a repetition loop was cut", field_name))
        return flags


# ------------------------------------------------------------------------ helpers


def _missing(source_language: str, target_language: str) -> ModelMissing:
    return ModelMissing(
        source_language,
        target_language,
        f"install it with: {models.install_command(source_language, target_language)}",
    )


def _plan_units(plan: _Plan) -> list[_Unit]:
    return [
        u for f in plan.fields for whole, spans in f.units.values() for u in [whole, *spans] if u
    ]


def _has_words(text: str) -> bool:
    """Anything for the model besides placeholders (punctuation counts: 。 for .)."""
    return bool(gl.PLACEHOLDER_RE.sub("", text).strip())


def _tokenizer(info: models.PackageInfo) -> Any:
    """A package's SentencePiece model, loaded for one leg and then dropped: it loads
    in ~15 ms but holds ~12 MB (50k pieces), which four idle directions should not."""
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(info.path / "sentencepiece.model"))


def _decode_pieces(info: models.PackageInfo, sp: Any, pieces: Sequence[str]) -> str:
    text: str = sp.decode_pieces(list(pieces)).replace("\u2581", " ")
    prefix = info.target_prefix
    if prefix and text.startswith(prefix):
        text = text[len(prefix) :]
    return text[1:] if text.startswith(" ") else text


def _release_memory() -> None:
    """Give the decoding buffers back to the system after a batch.

    CTranslate2 frees its buffers, but glibc keeps freed heap memory in per-thread
    arenas: without this, every loaded direction keeps its own peak working set and
    a process holding four directions grows by all four (measured: docs/performance.md).
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> Any:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None  # not glibc (macOS, musl): nothing to trim


_LIBC = _load_libc()
_M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
MALLOC_ARENAS = 2


def _limit_malloc_arenas() -> None:
    """At most two glibc malloc arenas for the process (set before CTranslate2 starts
    its threads): with one arena per decoding thread, the peak of a pass varied by
    ~20 MB from run to run, depending on which thread allocated what; with two it is
    stable and no slower (docs/performance.md)."""
    if _LIBC is not None and hasattr(_LIBC, "mallopt"):
        _LIBC.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def _bound(source_pieces: int) -> int:
    return min(MAX_DECODE, int(source_pieces * LENGTH_FACTOR) + LENGTH_EXTRA)


def _bad(source: str, out: _Out, src: str, dst: str) -> bool:
    """An output to decode again: it ran to the length bound, or it loops (and the
    source does not)."""
    return out.runaway or (bool(checks.loop(out.text, dst)) and not checks.loop(source, src))


def _render(f: _Field, sentence_out: dict[int, str], lang: str) -> str:
    """Reassemble a field; ``render`` visits sentences in ``doc.sentences()`` order."""
    it = iter(sentence_out[i] for i in range(len(sentence_out)))
    if f.html:
        return clean_html(seg.render(f.doc, lambda _s: next(it), lang))
    return seg.render_text(f.doc, lambda _s: next(it), lang)
