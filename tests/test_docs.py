"""Docs that cannot rot: every command has help and is in the README; every config
key of the shipped example is commented."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click

from syncd import config as cfgmod
from syncd.cli import main

ROOT = Path(__file__).parent.parent


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        out.append((full, cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, full + " "))
    return out


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, cmd in _commands(main):
        assert cmd.help and len(cmd.help.strip()) > 20, f"`syncd {name}` has no help text"
        top = name.split()[0]
        assert f"syncd {top}" in readme, f"`syncd {top}` is not in README.md"
        for p in cmd.params:
            if isinstance(p, click.Option):
                assert p.help, f"option {p.opts} of `syncd {name}` has no help"


def test_every_section_key_is_in_the_example_config_with_a_comment() -> None:
    text = (ROOT / "config" / "syncd.toml").read_text(encoding="utf-8")
    sections = {
        "http": cfgmod.HttpConfig,
        "storage": cfgmod.StorageConfig,
        "models": cfgmod.ModelsConfig,
        "sync": cfgmod.SyncConfig,
        "translate": cfgmod.TranslateConfig,
        "log": cfgmod.LogConfig,
        "health": cfgmod.HealthConfig,
        "alerts": cfgmod.AlertsConfig,
    }
    for section, cls in sections.items():
        m = re.search(rf"^\[{section}\]\n(.*?)(?=^\[)", text, re.S | re.M)
        assert m, f"[{section}] missing from config/syncd.toml"
        body = m.group(1)
        for f in dataclasses.fields(cls):
            km = re.search(rf"((?:^#.*\n)+)^{f.name} = ", body, re.M)
            assert km, f"[{section}] {f.name} is missing or has no comment above it"


def test_every_test_named_in_the_design_doc_exists() -> None:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(refs) > 20
    for path, name in refs:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), (
            f"{path}::{name} is named in docs/design.md but does not exist"
        )
