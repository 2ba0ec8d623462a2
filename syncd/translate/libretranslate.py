"""``[translate] engine = { kind = "libretranslate", url, api_key }``: a remote engine.

A ``Translator`` that sends each language leg's sentences to a LibreTranslate(-
compatible) server pool, so that decoding runs on machines of its own (GPUs), while
everything else stays in syncd and behaves as with the local engine: the request is
planned by ``plan.make_plan`` (sentences, glossary masks, inline markup spans), the
translation memory is asked first and fed after, broken placeholders are translated
again in pieces, and ``plan.assemble`` restores terms, converts to Traditional,
reassembles, sanitizes and flags. Given the same sentence outputs, the drafts are
the same as the local engine's.

The API (LibreTranslate's documented one)::

    GET  {url}/languages   → [{"code": "de", "name": "German", "targets": ["en", …]}, …]
    POST {url}/translate   {"q": [sentence, …], "source": "de", "target": "en",
                            "format": "text", "api_key": "…"}
                           → {"translatedText": [translation, …]}   (same order)
    errors                 → 4xx/5xx {"error": "…"} (400 bad request, 403 key refused,
                             429 slow down, 500 the server failed)

Routes: direct when one side is English, else two legs through English, as Argos
pivots, so editors get the English pivot beside the draft as with the local engine.
Chinese is ``zh`` (older servers) or ``zh-Hans`` (newer): whichever ``/languages``
offers. A pair the server does not offer is ``ModelMissing``.

Failures: a timeout, a network error, any error answer or a malformed one fails the
leg's requests with ``TranslateError``; their deliveries are retried with backoff and
parked after ``[sync] max_attempts``, exactly like a failing target. Nothing is
remembered from a failed leg.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import __version__, logs
from ..config import EngineConfig
from ..errors import ConfigError, ModelMissing, SyncdError, TranslateError
from ..models import Translation
from . import TranslationMemory, TranslationRequest
from . import glossary as gl
from . import plan as pl
from .legs import recall_first, run_legs
from .packages import PackageInfo, code_of

log = logs.get(__name__)

PIVOT = "en"
#: sentences per request, and characters: servers may cap both (--batch-limit,
#: --char-limit); small requests also spread over a pool behind a balancer
MAX_Q = 64
MAX_CHARS = 20_000
#: how long the server's language list is trusted
LANGUAGES_TTL = 300.0


class LibreTranslateEngine:
    """A ``Translator`` over a LibreTranslate server (see the module docstring)."""

    def __init__(
        self,
        config: EngineConfig,
        *,
        glossary: gl.Glossary | None = None,
        memory: TranslationMemory | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.config = config
        self.url = config.url.rstrip("/")
        self.glossary = glossary if glossary is not None else gl.Glossary()
        self.memory = memory
        self.stats: Counter[str] = Counter()
        seconds = config.timeout.total_seconds()
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)),
            headers={"User-Agent": f"syncd/{__version__}"},
            follow_redirects=False,
            trust_env=False,
        )
        self._lock = threading.Lock()
        self._languages: dict[str, set[str]] | None = None
        self._languages_at = 0.0
        self._opencc: dict[str, Any] = {}
        self._host = urlsplit(self.url).netloc or self.url

    # ---------------------------------------------------------------- the server

    def _error(self, what: str, detail: str) -> TranslateError:
        return TranslateError(f"LibreTranslate at {self.url}: {what}: {detail}")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request; any failure is a ``TranslateError`` naming the server."""
        try:
            r = self.http.request(method, self.url + path, json=body)
        except httpx.TimeoutException as exc:
            raise self._error(f"{path} timed out", str(exc) or type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise self._error(f"{path} unreachable", str(exc) or type(exc).__name__) from exc
        try:
            data = r.json()
        except ValueError:
            data = None
        if r.status_code != 200:
            reason = data.get("error") if isinstance(data, dict) else None
            meaning = {
                400: "refused the request",
                403: "refused the API key",
                429: "asks to slow down",
            }.get(r.status_code, "failed")
            raise self._error(f"{path} {meaning} ({r.status_code})", str(reason or r.text[:200]))
        if data is None:
            raise self._error(f"{path} answered", "not JSON")
        return data

    def _secret(self) -> str | None:
        if self.config.api_key is None:
            return None
        try:
            return self.config.api_key.resolve()
        except ConfigError as exc:
            raise TranslateError(f"LibreTranslate API key: {exc}") from exc

    def languages(self) -> dict[str, set[str]]:
        """Source code → target codes the server offers (cached for a few minutes)."""
        with self._lock:
            if self._languages is not None and time.monotonic() - self._languages_at < (
                LANGUAGES_TTL
            ):
                return self._languages
        data = self._call("GET", "/languages")
        if not isinstance(data, list):
            raise self._error("/languages answered", "not a list of languages")
        offered: dict[str, set[str]] = {}
        for lang in data:
            if isinstance(lang, dict) and isinstance(lang.get("code"), str):
                targets = lang.get("targets")
                offered[lang["code"]] = {t for t in targets or () if isinstance(t, str)}
        with self._lock:
            self._languages, self._languages_at = offered, time.monotonic()
        return offered

    @staticmethod
    def _code(code: str, offered: dict[str, set[str]]) -> str:
        if code == "zh" and "zh" not in offered and "zh-Hans" in offered:
            return "zh-Hans"
        return code

    def _route(self, source_language: str, target_language: str) -> list[PackageInfo] | None:
        """The legs from → to on this server (through English unless one side is
        English); None when the server does not offer them."""
        offered = self.languages()
        src, dst = code_of(source_language), code_of(target_language)
        pairs = [(src, dst)] if PIVOT in (src, dst) else [(src, PIVOT), (PIVOT, dst)]
        legs = []
        for a, b in pairs:
            ca, cb = self._code(a, offered), self._code(b, offered)
            if cb not in offered.get(ca, ()):
                return None
            legs.append(
                PackageInfo(
                    f"libretranslate-{a}_{b}",
                    a,
                    b,
                    self._host,
                    0,
                    Path(self.url),
                    stamp=f"{ca}>{cb}",
                )
            )
        return legs

    # --------------------------------------------------------------- Translator

    def missing(self, source_language: str, target_language: str) -> list[str]:
        if code_of(source_language) == code_of(target_language):
            return []
        try:
            if self._route(source_language, target_language) is not None:
                return []
        except TranslateError as exc:
            return [str(exc)]
        return [
            f"LibreTranslate at {self.url} offers no {source_language} → {target_language} "
            "(through English): install the language models on the server"
        ]

    def describe_settings(self) -> str:
        """One line for ``syncd check``: the server that translates."""
        return f"a LibreTranslate server at {self.url}"

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def translate(
        self, requests: Sequence[TranslationRequest]
    ) -> list[Translation | TranslateError]:
        plans: list[pl.Plan | TranslateError] = []
        for req in requests:
            src, dst = code_of(req.source_language), code_of(req.target_language)
            try:
                legs = [] if src == dst else self._route(src, dst)
            except TranslateError as exc:
                plans.append(exc)
                continue
            if legs is None:
                plans.append(
                    ModelMissing(
                        req.source_language,
                        req.target_language,
                        f"LibreTranslate at {self.url} does not offer it",
                    )
                )
            else:
                plans.append(
                    pl.make_plan(req, legs, src, glossary=self.glossary, convert=self._convert)
                )
        units = [u for p in plans if isinstance(p, pl.Plan) for u in p.units()]
        self._run([u.job for u in units])
        self._run(pl.piece_jobs(units))  # placeholders broken: the pieces between them
        return [
            p
            if isinstance(p, TranslateError)
            else pl.assemble(p, glossary=self.glossary, convert=self._convert)
            for p in plans
        ]

    def _convert(self, config: str, text: str) -> str:
        if config not in self._opencc:
            import opencc

            self._opencc[config] = opencc.OpenCC(config)
        return str(self._opencc[config].convert(text))

    # ------------------------------------------------------------------ running

    def _run(self, jobs: Sequence[pl.Job]) -> None:
        """Every job through its legs, one request group per language pair (as the
        local engine batches per package)."""
        run_legs(jobs, self._leg, lambda leg: leg.stamp)

    def _leg(self, leg: PackageInfo, texts: Sequence[str]) -> tuple[dict[str, str], set[str]]:
        """Distinct texts through one leg: the memory first, the server for the rest
        (a server never cuts a loop short: the second value is always empty)."""
        uniq, done, todo = recall_first(self.memory, leg.ref, texts, self.stats)
        if not todo:
            return done, set()
        started = time.monotonic()
        source, target = leg.stamp.split(">")
        fresh: dict[str, str] = {}
        for batch in _batches(todo):
            body: dict[str, Any] = {"q": batch, "source": source, "target": target}
            body["format"] = "text"
            key = self._secret()
            if key is not None:
                body["api_key"] = key
            data = self._call("POST", "/translate", body)
            out = data.get("translatedText") if isinstance(data, dict) else None
            if not isinstance(out, list) or len(out) != len(batch):
                raise self._error("/translate answered", "not one translation per sentence")
            fresh.update(zip(batch, (str(o) for o in out), strict=True))
            self.stats["requests"] += 1
        self.stats["translated"] += len(todo)
        log.info(
            "leg-translated",
            engine="libretranslate",
            leg=f"{source}->{target}",
            sentences=len(uniq),
            translated=len(todo),
            seconds=round(time.monotonic() - started, 3),
        )
        done.update(fresh)
        if self.memory is not None:
            try:
                self.memory.remember(leg.ref, fresh)
            except SyncdError as exc:
                log.warning("memory-unavailable", error=str(exc))
        return done, set()


def _batches(texts: Sequence[str]) -> list[list[str]]:
    """``texts`` in requests of at most ``MAX_Q`` sentences and ``MAX_CHARS`` characters."""
    out: list[list[str]] = [[]]
    size = 0
    for t in texts:
        if out[-1] and (len(out[-1]) >= MAX_Q or size + len(t) > MAX_CHARS):
            out.append([])
            size = 0
        out[-1].append(t)
        size += len(t)
    return out
