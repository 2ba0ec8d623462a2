"""Deployment as written: the systemd unit, the image's ignore list and volumes, the
compose comments and the docs agree with what syncd does (no Docker or systemd here:
the files are read)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from syncd.exits import Exit

ROOT = Path(__file__).parent.parent


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((ROOT / "deploy" / "syncd.service").read_text(encoding="utf-8"))
    return parser


def test_the_systemd_unit_is_hardened_and_runs_the_daemon() -> None:
    s = unit()["Service"]
    assert s["User"] == "syncd" and s["StateDirectory"] == "syncd"
    assert s["ProtectSystem"] == "strict" and s["NoNewPrivileges"] == "yes"
    assert s["Restart"] == "on-failure" and s["ExecStart"].endswith("/syncd run")
    assert s["ExecStartPre"].endswith("/syncd check")
    # a config that cannot be used is not restarted in a loop
    assert s["RestartPreventExitStatus"].split() == [str(int(Exit.USAGE)), str(int(Exit.ATTENTION))]
    assert s["CapabilityBoundingSet"] == ""


def test_the_image_leaves_local_state_out_and_its_volumes_belong_to_its_user() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for local in ("config/state", "config/models", "config/drafts", "secrets", ".venv", ".git"):
        assert local in ignored, local
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    (volumes,) = re.findall(r"^VOLUME \[(.+)\]$", text, re.M)
    chown = text.index("chown -R syncd:syncd")
    assert chown < text.index("\nUSER syncd") < text.index("\nVOLUME [")
    for v in re.findall(r'"([^"]+)"', volumes):
        assert v in text[: chown + 200], f"{v} is not created for syncd before VOLUME"


def test_compose_comments_and_docs_say_what_works() -> None:
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    head = compose.split("services:")[0]
    assert "secrets/wp_app_password" in head.split("docker compose up")[0]  # before up
    targets = (ROOT / "docs" / "targets.md").read_text(encoding="utf-8")
    assert "--once" not in targets and "Proposed services" not in targets
    ops = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for section in ("## Exit codes", "## `/healthz` and `/metrics`", "## Alerts to the operator",
                    "## systemd", "## Docker", "## Backup and restore", "## Upgrades"):  # fmt: skip
        assert section in ops, section
    for code in Exit:  # the table in the docs is the one in syncd/exits.py
        assert f"| {int(code)} | {code.name} |" in ops, code
    assert "alert:" in ops and "expr:" in ops  # an example Prometheus rule
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "353 MB" not in pyproject
