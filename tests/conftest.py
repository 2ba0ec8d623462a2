"""Shared fixtures: generated Argos packages, loopback feed servers, config files."""

from __future__ import annotations

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
def _close_feed_clients() -> Iterator[None]:
    from tests.support.feedsource import close_clients

    yield
    close_clients()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """argostranslate reads XDG_* and HOME: keep every test away from the real ones."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL (scripts/postgres/pg-test-server), started on first use."""
    from tests.support.postgres import ensure_postgres

    return ensure_postgres()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store URL on each backend: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/state/syncd.db"
        return
    from tests.support.postgres import scratch_schema

    with scratch_schema(request.getfixturevalue("postgres_url")) as url:
        yield url
