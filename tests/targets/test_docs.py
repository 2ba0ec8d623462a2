"""Docs that cannot rot: every config key of every target kind is in docs/targets.md."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from syncd.kinds import TABLE

DOC = Path(__file__).resolve().parents[2] / "docs" / "targets.md"


@pytest.mark.parametrize("kind", sorted(TABLE.targets))
def test_every_option_is_documented_under_its_kind(kind: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf'^## `kind = "{kind}"`\n(.*?)(?=^## )', text, re.S | re.M)
    assert m, f'docs/targets.md has no section ## `kind = "{kind}"`'
    for f in dataclasses.fields(TABLE.target(kind).options):
        assert re.search(rf"^\| `{f.name}` \| .+ \| .+ \| .+ \|$", m.group(1), re.M), (
            f"{kind}.{f.name} is not in the table of docs/targets.md"
        )
