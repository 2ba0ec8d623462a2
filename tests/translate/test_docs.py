"""Translation docs that cannot rot: glossary keys, flag kinds, settings, cited tests."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from syncd import draft
from syncd.config import ModelsConfig
from syncd.translate import checks, glossary

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "translation.md").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "config" / "glossary.toml").read_text(encoding="utf-8")


def test_every_glossary_key_is_documented_in_the_example_and_the_doc() -> None:
    comments = "\n".join(line for line in EXAMPLE.splitlines() if line.lstrip().startswith("#"))
    for key in (*glossary.TOP_KEYS, *glossary.TERM_KEYS):
        assert re.search(rf"\b{re.escape(key)}\b", comments), (
            f"glossary key {key!r} not explained in config/glossary.toml"
        )
        assert f"`{key}" in DOC or f'"{key}"' in DOC or f"`term.{key}`" in DOC, (
            f"glossary key {key!r} not in docs"
        )


def test_every_flag_kind_is_documented_and_named_for_editors() -> None:
    for kind in checks.KINDS:
        assert f"| `{kind}` |" in DOC, f"flag {kind!r} missing from docs/translation.md"
        for lang in ("de", "zh", "zh-Hant"):
            assert kind in draft._KIND_NAMES[lang], (
                f"flag {kind!r} has no {lang} name in the reviewer note"
            )


def test_every_models_setting_is_in_the_doc() -> None:
    for f in dataclasses.fields(ModelsConfig):
        if f.name not in ("dir", "index_url"):
            assert f"`{f.name}`" in DOC, f"[models] {f.name} not explained in docs/translation.md"


def test_cited_test_files_exist() -> None:
    for path in re.findall(
        r"`(tests/[\w/]+\.py)`", DOC + (ROOT / "docs" / "performance.md").read_text("utf-8")
    ):
        assert (ROOT / path).exists(), path
