"""Shared fixtures: generated Argos packages, loopback feed servers, config files."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.loopback import LoopbackServer, serve


@pytest.fixture(scope="session")
def argos_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """The four tiny deterministic packages (de→en, en→zh, zh→en, en→de)."""
    from tests.support.argosgen import standard_packages

    return standard_packages(tmp_path_factory.mktemp("argos-packages"))


@pytest.fixture(scope="session")
def argos_package_dir(argos_packages: dict[tuple[str, str], Path]) -> Path:
    folders = {p.parent for p in argos_packages.values()}
    assert len(folders) == 1
    return folders.pop()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as s:
        yield s


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """argostranslate reads XDG_* and HOME: keep every test away from the real ones."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)


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


def env_without_network_proxies() -> dict[str, str]:
    env = dict(os.environ)
    for k in list(env):
        if k.lower().endswith("_proxy"):
            del env[k]
    return env
