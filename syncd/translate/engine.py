"""The Argos engine: installed Argos packages, driven directly through CTranslate2
and SentencePiece, batched across every item of a sync pass.

``ArgosEngine.translate(requests)``::

    refresh the package list if the models folder changed (a few stat calls)
    for each request: route (direct package, else two legs through English) or
        ModelMissing; plan it (``plan.make_plan``: title, summary and body →
        sentences → masked units, inline markup spans too)
    run all units leg by leg: round 1 = every first leg (de→en for everything),
        round 2 = every second leg (en→zh for everything); per package, one
        ``translate_batch`` over the distinct sentences the memory does not know
    a unit whose placeholders come back dropped or repeated is translated again
        in pieces around its placeholders (``plan.piece_jobs``, batched as well)
    assemble each plan (``plan.assemble``: restore approved forms, convert to
        Traditional when asked, put markup back, reassemble, sanitize, flags)

This module holds what touches the models (loading, batching, decoding, memory,
OpenCC); planning and assembling are pure and live in ``plan.py``; the device,
compute type and thread layout are chosen for the machine in ``settings.py``.
With ``inter_threads`` = N, N batches are in flight: a call too small for CTranslate2
to cut into N batches is submitted as N groups at once (``settings.worker_groups``).

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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import logs
from ..config import ModelsConfig
from ..errors import ModelMissing, SyncdError, TranslateError
from ..models import Translation
from . import TranslationMemory, TranslationRequest, checks
from . import glossary as gl
from . import packages as pkg
from . import plan as pl
from . import segment as seg
from . import settings as st
from .legs import recall_first, run_legs

log = logs.get(__name__)

MAX_SOURCE_PIECES = 250  # Argos models take < 256 pieces (with </s>)
MAX_DECODE = 384
LENGTH_FACTOR = 2.0  # max_decoding_length = factor × source pieces + extra
LENGTH_EXTRA = 10
LENGTH_PENALTY = 0.2  # as argostranslate
RETRY_REPETITION_PENALTY = 1.3


@dataclass
class _Loaded:
    info: pkg.PackageInfo
    translator: Any  # ctranslate2.Translator


@dataclass(frozen=True)
class _Out:
    text: str
    runaway: bool  # decoding stopped at the length bound


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
        #: per model ref: sentences decoded and seconds spent (for /metrics)
        self._usage: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._seen: tuple[tuple[str, str], ...] | None = None
        self._packages: list[pkg.PackageInfo] = []
        self._loaded: dict[tuple[Path, str], _Loaded] = {}
        self._opencc: dict[str, Any] = {}
        self._settings: st.Settings | None = None
        self._settings_lock = threading.Lock()
        self.machine: st.Machine | None = None

    # ---------------------------------------------------------------- settings

    def settings(self) -> st.Settings:
        """Device, compute type and thread layout, chosen for this machine on first
        use (``settings.choose``: ``[models]`` keys win) and then fixed; logged once.
        Raises ``TranslateError`` when ``device = "cuda"`` finds no GPU."""
        with self._settings_lock:
            if self._settings is None:
                import ctranslate2

                machine = st.detect()
                chosen = st.choose(self.config, machine, ctranslate2.get_supported_compute_types)
                log.info("translation-settings", machine=machine.describe(), **chosen.as_fields())
                self.machine, self._settings = machine, chosen
            return self._settings

    def describe_settings(self) -> str:
        """One line for ``syncd check``: the machine and the settings chosen for it."""
        chosen = self.settings()
        assert self.machine is not None  # set with the settings
        return f"{self.machine.describe()}: {chosen.describe()}"

    # ---------------------------------------------------------------- packages

    def _refresh(self) -> list[pkg.PackageInfo]:
        """Notice installed, updated and removed packages (no restart needed)."""
        with self._lock:
            seen = pkg.fingerprint(self.models_dir)
            if seen != self._seen:
                self._packages = pkg.installed(self.models_dir)
                current = {(p.path, p.stamp) for p in self._packages}
                for key in [k for k in self._loaded if k not in current]:
                    log.info("model-unloaded", path=str(key[0]))
                    del self._loaded[key]
                self._seen = seen
            return self._packages

    def _load(self, info: pkg.PackageInfo) -> _Loaded:
        key = (info.path, info.stamp)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = self._open(info)
            return self._loaded[key]

    def _open(self, info: pkg.PackageInfo) -> _Loaded:
        import ctranslate2

        s = self.settings()
        _limit_malloc_arenas()
        try:
            translator = ctranslate2.Translator(
                str(info.path / "model"),
                device=s.device,
                compute_type=s.compute_type,
                inter_threads=s.inter_threads,
                intra_threads=s.intra_threads,
            )
            _tokenizer(info)  # fails now rather than mid-pass
        except (OSError, RuntimeError, ValueError) as exc:
            raise TranslateError(
                f"model {info.ref} at {info.path} cannot be loaded: {exc}"
            ) from exc
        # the type CTranslate2 resolved ("int8" runs as int8_float32 on CPU)
        log.info(
            "model-loaded",
            model=info.ref,
            device=s.device,
            compute_type=getattr(translator, "compute_type", s.compute_type),
        )
        return _Loaded(info, translator)

    def missing(self, source_language: str, target_language: str) -> list[str]:
        packages = self._refresh()
        if pkg.code_of(source_language) == pkg.code_of(target_language):
            return []
        if pkg.route(packages, source_language, target_language) is not None:
            return []
        return [_missing(source_language, target_language).args[0]]

    def usage(self) -> dict[str, tuple[int, float]]:
        """Per model (``name@version``): sentences decoded and seconds spent since
        start (``syncd.metrics``)."""
        return dict(self._usage)

    def loaded(self) -> dict[str, int]:
        """The models held in memory, by ref, with their size on disk in bytes: what
        they take in memory, within a few percent (int8 weights are mapped as saved)."""
        with self._lock:
            return {m.info.ref: m.info.size_bytes for m in self._loaded.values()}

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()

    # -------------------------------------------------------------- translation

    def translate(
        self, requests: Sequence[TranslationRequest]
    ) -> list[Translation | TranslateError]:
        packages = self._refresh()
        plans: list[pl.Plan | TranslateError] = []
        for req in requests:
            src, dst = pkg.code_of(req.source_language), pkg.code_of(req.target_language)
            legs = [] if src == dst else pkg.route(packages, src, dst)
            if legs is None:
                plans.append(_missing(req.source_language, req.target_language))
            else:
                plans.append(
                    pl.make_plan(req, legs, src, glossary=self.glossary, convert=self._convert)
                )
        units = [u for p in plans if isinstance(p, pl.Plan) for u in p.units()]
        self._run([u.job for u in units])
        # placeholders broken: translate the pieces between them
        self._run(pl.piece_jobs(units))
        out: list[Translation | TranslateError] = []
        for p in plans:
            out.append(
                p
                if isinstance(p, TranslateError)
                else pl.assemble(p, glossary=self.glossary, convert=self._convert)
            )
        return out

    def _convert(self, config: str, text: str) -> str:
        if config not in self._opencc:
            import opencc

            self._opencc[config] = opencc.OpenCC(config)
        return str(self._opencc[config].convert(text))

    # ------------------------------------------------------------------ running

    def _run(self, jobs: Sequence[pl.Job]) -> None:
        """Every job through its legs: one batch per package per round."""
        run_legs(jobs, self._leg, lambda info: (info.path, info.stamp))

    def _leg(self, info: pkg.PackageInfo, texts: Sequence[str]) -> tuple[dict[str, str], set[str]]:
        """Translate distinct texts with one package, using and feeding the memory."""
        uniq, done, todo = recall_first(self.memory, info.ref, texts, self.stats)
        cut: set[str] = set()
        if todo:
            started = time.monotonic()
            model = self._load(info)
            try:
                fresh, cut = self._decode(model, todo)
            except (OSError, RuntimeError, ValueError) as exc:
                raise TranslateError(f"model {info.ref} failed: {exc}") from exc
            self.stats["translated"] += len(todo)
            done_n, spent = self._usage.get(info.ref, (0, 0.0))
            self._usage[info.ref] = (done_n + len(todo), spent + time.monotonic() - started)
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
        per_source: dict[str, list[Any]] = {}  # options with one entry per source
        if model.info.target_prefix:
            per_source["target_prefix"] = [[model.info.target_prefix]] * len(tokens)
        if retry:
            options["repetition_penalty"] = RETRY_REPETITION_PENALTY
        self.stats["batches"] += 1
        chosen = self.settings()
        groups = st.worker_groups(chosen, self.config.beam_size, [len(t) for t in tokens])
        pending = [
            model.translator.translate_batch(
                [tokens[i] for i in group],
                beam_size=max(1, self.config.beam_size),
                max_batch_size=st.batch_size(chosen, self.config.beam_size),
                batch_type="tokens",
                length_penalty=LENGTH_PENALTY,
                replace_unknowns=True,
                max_decoding_length=_bound(longest),
                num_hypotheses=1,
                # several groups: all submitted before any is awaited, one per worker
                asynchronous=len(groups) > 1,
                **{k: [v[i] for i in group] for k, v in per_source.items()},
                **options,
            )
            for group in groups
        ]
        results: list[Any] = [None] * len(tokens)
        for group, done in zip(groups, pending, strict=True):
            for i, r in zip(group, done, strict=True):
                results[i] = r.result() if len(groups) > 1 else r
        _release_memory()
        return [
            _Out(
                _decode_pieces(model.info, sp, r.hypotheses[0]),
                len(r.hypotheses[0]) >= _bound(len(t)),
            )
            for r, t in zip(results, tokens, strict=True)
        ]


# ------------------------------------------------------------------------ helpers


def _missing(source_language: str, target_language: str) -> ModelMissing:
    return ModelMissing(
        source_language,
        target_language,
        f"install it with: {pkg.install_command(source_language, target_language)}",
    )


def _tokenizer(info: pkg.PackageInfo) -> Any:
    """A package's SentencePiece model, loaded for one leg and then dropped: it loads
    in ~15 ms but holds ~12 MB (50k pieces), which four idle directions should not."""
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(info.path / "sentencepiece.model"))


def _decode_pieces(info: pkg.PackageInfo, sp: Any, pieces: Sequence[str]) -> str:
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
