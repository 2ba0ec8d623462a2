"""The module boundaries the design promises: pure modules import no I/O module, and
the inbound kind sees the store only through its narrow queue protocol."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: modules that talk to the network, a database, model files or sockets
IO_MODULES = (
    "httpx",
    "sqlalchemy",
    "ctranslate2",
    "sentencepiece",
    "argostranslate",
    "http.server",
    "syncd.store",
    "syncd.net.http",
    "syncd.translate.packages",
)


def loaded_after_import(module: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of ``candidates`` a fresh interpreter has loaded after importing ``module``."""
    code = f"import sys, {module}\nprint(' '.join(m for m in {candidates!r} if m in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.split()


@pytest.mark.parametrize(
    "module",
    [
        "syncd.models",
        "syncd.decide",
        "syncd.translate.segment",
        "syncd.translate.glossary",
        "syncd.translate.checks",
        "syncd.translate.plan",
        "syncd.sources.selectors",
        "syncd.sources.article",
        "syncd.sources.inbound_schema",
    ],
)
def test_pure_modules_import_no_io_module(module: str) -> None:
    assert loaded_after_import(module, IO_MODULES) == []


@pytest.mark.parametrize("module", ["syncd.sources.inbound", "syncd.sources.inbound_server"])
def test_the_inbound_kind_does_not_import_the_store(module: str) -> None:
    assert loaded_after_import(module, ("syncd.store", "sqlalchemy")) == []
