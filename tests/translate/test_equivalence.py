"""The engine against ``argostranslate.translate`` on the same generated packages.

With argostranslate's decoding settings (beam 4, 32-token batches, length penalty
0.2, replace_unknowns) the engine's output equals the reference on plain sentences;
every difference is a documented fix, each asserted below. The reference runs in a
subprocess (argostranslate reads its settings at import) with sockets refused, so it
also proves the packages' MiniSBD splitters keep argostranslate offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.config import ModelsConfig
from syncd.models import Translation
from syncd.translate import TranslationRequest, packages
from syncd.translate.engine import ArgosEngine
from tests.support import argosgen

REFERENCE = r"""
import json, socket, sys

def refuse(*args, **kwargs):
    raise OSError("the reference run tried to use the network")

socket.socket.connect = refuse
socket.create_connection = refuse
import argostranslate.translate as t

jobs = json.loads(sys.stdin.read())
print(json.dumps([t.translate(q, f, to) for f, to, q in jobs], ensure_ascii=False))
"""

# max_batch_tokens counts beams: 128 // 4 = 32 source tokens per batch, as argostranslate
ARGOS_SETTINGS = ModelsConfig(beam_size=4, max_batch_tokens=128, inter_threads=1, intra_threads=0)

PLAIN = [
    *[(f, t, src) for f, t, src, _ in argosgen.SAMPLES],
    ("de", "zh", "Die Delegation aus Jinhua besucht heute das Museum. Willkommen in Düren!"),
    ("de", "en", "Die neue Ausstellung ist eine Kultur und Nachrichten aus China."),
    ("zh", "de", "代表团来自金华访问该博物馆。欢迎在迪伦！"),
    ("en", "zh", "The delegation visits the new exhibition in Jinhua."),
]
# Documented fixes: (from, to, text, argostranslate's output, syncd's output)
FIXES = [
    # argostranslate turns every "_" of the output into a space
    (
        "de",
        "en",
        "Hallo www.dueren.de/neue_welt",
        "Hello www.dueren.de/neue welt",
        "Hello www.dueren.de/neue_welt",
    ),
    # argostranslate lets the model rewrite a number's punctuation (1。000，5); syncd masks
    # it and writes it the target's way (German 1.000,5 is 1,000.5 in Chinese)
    ("de", "zh", "Düren hat 1.000,5 Einwohner.", "迪伦有 1。000，5居民。", "迪伦有 1,000.5居民。"),
]


@pytest.fixture(scope="module")
def offline_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard packages with MiniSBD splitters, installed by syncd."""
    built = argosgen.standard_packages(tmp_path_factory.mktemp("sbd-packages"), with_minisbd=True)
    target = tmp_path_factory.mktemp("sbd") / "models"
    for path in built.values():
        packages.install_file(target, path)
    return target


def reference(models_dir: Path, home: Path, jobs: list[tuple[str, str, str]]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOS_", "XDG_"))}
    env.update(
        HOME=str(home),
        ARGOS_PACKAGES_DIR=str(models_dir),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    done = subprocess.run(
        [sys.executable, "-c", REFERENCE],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: list[str] = json.loads(done.stdout)
    return result


def ours(models_dir: Path, jobs: list[tuple[str, str, str]]) -> list[str]:
    engine = ArgosEngine(models_dir, ARGOS_SETTINGS)
    results = engine.translate(
        [TranslationRequest(str(i), f, t, q, "", "") for i, (f, t, q) in enumerate(jobs)]
    )
    engine.close()
    assert all(isinstance(r, Translation) for r in results)
    return [r.title for r in results if isinstance(r, Translation)]


def test_plain_sentences_equal_argostranslate(offline_models: Path, tmp_path: Path) -> None:
    jobs = PLAIN + [(f, t, q) for f, t, q, _, _ in FIXES]
    expected = reference(offline_models, tmp_path / "home", jobs)
    got = ours(offline_models, jobs)
    assert got[: len(PLAIN)] == expected[: len(PLAIN)]
    assert [s[-1] for s in argosgen.SAMPLES] == expected[: len(argosgen.SAMPLES)]
    for (_f, _t, _q, theirs, mine), e, g in zip(
        FIXES, expected[len(PLAIN) :], got[len(PLAIN) :], strict=True
    ):
        assert (e, g) == (theirs, mine)
