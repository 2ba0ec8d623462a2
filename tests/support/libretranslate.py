"""A LibreTranslate server on 127.0.0.1 for tests: a fake *server*, not a patch.

Implements the documented API on ``tests.support.loopback``: ``GET /languages`` and
``POST /translate`` (``q`` a string or a list, ``source``, ``target``, ``format``,
``api_key``), with LibreTranslate's error answers: 400 for a bad request or a pair it
does not offer, 403 for a missing or wrong API key, 429 and 500 on demand
(``fail_next``), and an answer slower than the client's timeout (``delay``).

It translates with the generated Argos packages (tests/support/argosgen.py), decoding
each sentence the way syncd's local engine does (CTranslate2 + SentencePiece, beam
``beam``, length penalty 0.2, ``replace_unknowns``, the same length bound), so the two
engines see the same model outputs sentence for sentence. Contains no business logic.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.loopback import LoopbackServer, Reply, Request

NAMES = {"de": "German", "en": "English", "zh": "Chinese"}


def _reply(status: int, data: Any) -> Reply:
    return Reply(
        status, json.dumps(data, ensure_ascii=False).encode(), {"Content-Type": "application/json"}
    )


class FakeLibreTranslate:
    """See the module docstring. ``packages`` maps (from, to) to an extracted package
    folder; ``chinese`` is the code the server uses for Chinese (``zh`` or ``zh-Hans``)."""

    def __init__(
        self,
        packages: Mapping[tuple[str, str], Path],
        *,
        api_key: str | None = None,
        chinese: str = "zh",
        beam: int = 4,
    ) -> None:
        self.packages = dict(packages)
        self.api_key = api_key
        self.chinese = chinese
        self.beam = beam
        self.server = LoopbackServer()
        self.server.routes["/languages"] = self._languages
        self.server.routes["/translate"] = self._translate
        self.url = self.server.url
        #: (status, error) answers for the next /translate requests, first first
        self.fail_next: list[tuple[int, str]] = []
        #: seconds each /translate waits before answering
        self.delay = 0.0
        #: every q list translated: (source, target, q)
        self.batches: list[tuple[str, str, list[str]]] = []
        self._models: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    # -- codes: the server's own (zh-Hans on newer servers) ⇄ Argos codes

    def _ours(self, code: str) -> str:
        return self.chinese if code == "zh" else code

    def _argos(self, code: str) -> str:
        return "zh" if code == self.chinese else code

    def _languages(self, _req: Request) -> Reply:
        codes = sorted({c for pair in self.packages for c in pair})
        return _reply(
            200,
            [
                {
                    "code": self._ours(c),
                    "name": NAMES.get(c, c),
                    "targets": sorted(self._ours(b) for a, b in self.packages if a == c),
                }
                for c in codes
            ],
        )

    def _translate(self, req: Request) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        if self.fail_next:
            status, error = self.fail_next.pop(0)
            return _reply(status, {"error": error})
        try:
            body = json.loads(req.body)
        except ValueError:
            return _reply(400, {"error": "Invalid request: not JSON"})
        if self.api_key is not None and body.get("api_key") != self.api_key:
            return _reply(403, {"error": "Invalid API key"})
        q, source, target = body.get("q"), body.get("source"), body.get("target")
        if not q or not source or not target:
            return _reply(400, {"error": "Invalid request: missing q, source or target"})
        pair = (self._argos(source), self._argos(target))
        if pair not in self.packages:
            return _reply(400, {"error": f"{target} is not supported for {source}"})
        texts = [q] if isinstance(q, str) else list(q)
        self.batches.append((source, target, texts))
        out = self._run(pair, texts)
        return _reply(200, {"translatedText": out[0] if isinstance(q, str) else out})

    def _run(self, pair: tuple[str, str], texts: list[str]) -> list[str]:
        import ctranslate2
        import sentencepiece as spm

        folder = self.packages[pair]
        with self._lock:
            if pair not in self._models:
                sp = spm.SentencePieceProcessor(model_file=str(folder / "sentencepiece.model"))
                self._models[pair] = (sp, ctranslate2.Translator(str(folder / "model")))
            sp, model = self._models[pair]
        tokens = [sp.encode(t, out_type=str) for t in texts]
        longest = max(len(t) for t in tokens)
        results = model.translate_batch(
            tokens,
            beam_size=self.beam,
            length_penalty=0.2,
            replace_unknowns=True,
            max_decoding_length=min(384, int(longest * 2.0) + 10),
            num_hypotheses=1,
        )
        outs = []
        for r in results:
            text = sp.decode_pieces(list(r.hypotheses[0])).replace("\u2581", " ")
            outs.append(text[1:] if text.startswith(" ") else text)
        return outs


@contextmanager
def serve_libretranslate(
    packages: Mapping[tuple[str, str], Path], **kw: Any
) -> Iterator[FakeLibreTranslate]:
    fake = FakeLibreTranslate(packages, **kw)
    fake.server.start()
    try:
        yield fake
    finally:
        fake.server.stop()
