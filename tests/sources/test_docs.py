"""Docs that cannot rot: docs/sources.md documents every option of every source kind,
its TOML examples are valid configuration with a comment on every key, its alert
reasons are the ones the code raises, and its curl example really is accepted."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd import config as cfgmod
from syncd.kinds import TABLE
from syncd.sources.pages import LOGIN, VERIFY
from syncd.store import Store
from tests.support.frontdoor import FrontDoor

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources.md"
TEXT = DOC.read_text(encoding="utf-8")


def section(kind: str) -> str:
    m = re.search(rf'^## `kind = "{kind}"`\n(.*?)(?=^## )', TEXT, re.S | re.M)
    assert m, f'docs/sources.md has no section ## `kind = "{kind}"`'
    return m.group(1)


def examples(kind: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", section(kind), re.S)


@pytest.mark.parametrize("kind", sorted(TABLE.sources))
def test_every_option_is_documented_under_its_kind(kind: str) -> None:
    body = section(kind)
    for f in dataclasses.fields(TABLE.source(kind).options):
        assert re.search(rf"^\| `{f.name}` \| .+ \| .+ \| .+ \|$", body, re.M), (
            f"{kind}.{f.name} not in the table"
        )


@pytest.mark.parametrize("kind", ["html", "jpage", "inbound"])
def test_examples_are_valid_and_every_key_is_commented(kind: str, tmp_path: Path) -> None:
    (example,) = examples(kind)
    lines = example.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[a-z_]+ = ", line):
            j = i - 1
            while j >= 0 and re.match(r"^[a-z_]+ = ", lines[j]):
                j -= 1
            assert j >= 0 and lines[j].startswith("#"), f"{kind}: no comment above {line!r}"
    city = 'id = "c"\nname = "C"\nlanguage = "zh"\ntimezone = "Asia/Shanghai"\ntarget = { kind = "outbox", path = "o" }\n'
    # inbound sources are served on the front door, which needs an address
    doc = tomllib.loads(f'[web]\nlisten = "127.0.0.1:0"\n[[cities]]\n{city}\n{example}')
    cfg = cfgmod.parse(doc, tmp_path / "syncd.toml", kinds=TABLE)
    ((_, src),) = cfg.sources()
    assert src.kind == kind
    # every option of the kind is shown in the example
    keys = {m.group(1) for m in re.finditer(r"^([a-z_]+) = ", example, re.M)}
    refused = {"listen"} if kind == "inbound" else set()  # documented, refused when set
    missing = {f.name for f in dataclasses.fields(TABLE.source(kind).options)} - keys - refused
    assert not missing, f"{kind} example lacks {sorted(missing)}"


def test_alert_wording_matches_the_code() -> None:
    alerts = TEXT.split("## Alerts", 1)[1]
    assert f"`{VERIFY} (HTTP 412 challenge)`" in alerts
    assert f"`{LOGIN} (HTTP 401)`" in alerts
    assert "`layout changed: list selector matched 0 items (item = " in alerts


@pytest.mark.skipif(
    not all(shutil.which(t) for t in ("bash", "curl", "openssl", "od", "base64")),
    reason="needs curl and openssl",
)
def test_the_curl_example_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (script,) = re.findall(r"```sh\n(.*?)```", section("inbound"), re.S)
    secret = re.search(r"secret='([^']+)'", script).group(1)  # type: ignore[union-attr]
    monkeypatch.setenv("JINHUA_PUSH_SECRET", secret)
    (example,) = examples("inbound")
    city = 'id = "jinhua"\nname = "金华"\nlanguage = "zh"\ntimezone = "Asia/Shanghai"\ntarget = { kind = "outbox", path = "o" }\n'
    cfg = cfgmod.parse(
        tomllib.loads(f'[web]\nlisten = "127.0.0.1:0"\n[[cities]]\n{city}\n{example}'),
        tmp_path / "syncd.toml",
        kinds=TABLE,
    )
    store = Store(f"sqlite:///{tmp_path}/s.db")
    server = FrontDoor(cfg, store, lambda: datetime.now(UTC))
    server.start()
    try:
        out = subprocess.run(
            ["bash", "-c", script.replace("127.0.0.1:8787", f"127.0.0.1:{server.port}")],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        assert '"accepted": true' in out, out
        assert [k for k, _ in store.pending_inbound("jinhua-push")]
    finally:
        server.stop()
        store.close()
