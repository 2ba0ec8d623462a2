"""Config files for tests and benchmarks: two partner cities, every path inside one
folder. Contains no business logic."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_config(
    tmp_path: Path,
    dueren_sources: str,
    jinhua_sources: str,
    *,
    extra: str = "",
    glossary: bool = False,
) -> Path:
    """A two-city config in ``tmp_path`` whose paths are all inside it."""
    text = f"""
    [http]
    allow_private = true
    host_delay = "0s"
    timeout = "5s"
    respect_robots = false

    [storage]
    url = "sqlite:///state/syncd.db"

    [models]
    dir = "models"
    beam_size = 2

    [sync]
    first_run_max_age = "3650d"
    retry_base = "1s"
    {textwrap.dedent(extra).strip()}

    [[cities]]
    id = "dueren"
    name = "Düren"
    language = "de"
    timezone = "Europe/Berlin"
    names = {{ zh = "迪伦" }}
    sources = [{dueren_sources}]
    target = {{ kind = "outbox", path = "drafts/dueren" }}

    [[cities]]
    id = "jinhua"
    name = "金华"
    language = "zh"
    timezone = "Asia/Shanghai"
    names = {{ de = "Jinhua" }}
    sources = [{jinhua_sources}]
    target = {{ kind = "outbox", path = "drafts/jinhua" }}

    [[partnerships]]
    cities = ["dueren", "jinhua"]
    """
    path = tmp_path / "syncd.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def feed_source(source_id: str, url: str, interval: str = "15m") -> str:
    return f'{{ id = "{source_id}", kind = "feed", url = "{url}", interval = "{interval}", jitter = 0.0 }}'
