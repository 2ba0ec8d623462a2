"""The one table of kinds: every kind provides what its protocol says, config learns
the kinds by injection, and nothing outside the table asks ``kind == "…"``."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syncd import config as cfgmod
from syncd.config import CityConfig, Config, SourceConfig
from syncd.errors import ConfigError
from syncd.kinds import TABLE, Service
from syncd.store import Store

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

#: the smallest valid table of every kind's own keys
SOURCES: dict[str, dict[str, Any]] = {
    "feed": {"url": "https://d.example/rss"},
    "html": {"url": "https://d.example/news", "item": "li.news"},
    "jpage": {"url": "https://j.example/col/col1/index.html"},
    "inbound": {"secret": {"env": "SYNCD_TEST_KIND_SECRET"}},
}
TARGETS: dict[str, dict[str, Any]] = {
    "outbox": {"path": "drafts"},
    "webhook": {"url": "https://r.example/hook", "secret": {"env": "SYNCD_TEST_KIND_SECRET"}},
    "wordpress": {
        "url": "https://wp.example/",
        "user": "bot",
        "password": {"env": "SYNCD_TEST_KIND_SECRET"},
    },
    "feed": {"path": "feed", "token": {"env": "SYNCD_TEST_KIND_SECRET"}},
}


def every_kind(tmp_path: Path) -> Config:
    """One city per target kind; the first city has one source of every kind."""
    sources = [
        {"id": kind, "kind": kind, "interval": "15m", **table} for kind, table in SOURCES.items()
    ]
    cities: list[dict[str, Any]] = [
        {
            "id": f"c-{kind}",
            "name": kind,
            "language": "de",
            "timezone": "Europe/Berlin",
            "sources": sources if i == 0 else [],
            "target": {"kind": kind, **table},
        }
        for i, (kind, table) in enumerate(TARGETS.items())
    ]
    return cfgmod.parse(
        {"cities": cities, "web": {"listen": "127.0.0.1:0"}}, tmp_path / "syncd.toml", kinds=TABLE
    )


class Only:
    """The services a kind declared, and nothing else: touching another is a failure."""

    def __init__(self, needs: frozenset[Service], store: Store) -> None:
        self.needs = needs
        self._store = store
        self.touched: set[Service] = set()
        self.clients: list[Any] = []

    def _use(self, service: Service) -> None:
        self.touched.add(service)
        assert service in self.needs, f"used {service} without declaring it"

    @property
    def http(self) -> Any:
        self._use(Service.HTTP)
        from syncd.config import HttpConfig
        from syncd.net.http import PoliteClient

        self.clients.append(PoliteClient(HttpConfig()))
        return self.clients[-1]

    @property
    def store(self) -> Store:
        self._use(Service.QUEUE)
        return self._store

    @property
    def pages(self) -> Store:
        self._use(Service.PAGES)
        return self._store

    @property
    def target_http(self) -> None:
        self._use(Service.TARGET_HTTP)
        return None

    @property
    def clock(self) -> Callable[[], datetime]:
        self._use(Service.CLOCK)
        return lambda: NOW


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path}/s.db")
    yield s
    s.close()


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("SYNCD_TEST_KIND_SECRET", "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=")
    return every_kind(tmp_path)


def test_the_table_names_each_kind_by_its_own_name_with_frozen_options() -> None:
    for table in (TABLE.sources, TABLE.targets):
        for name, kind in table.items():
            assert kind.name == name
            assert dataclasses.is_dataclass(kind.options)
            assert kind.options.__dataclass_params__.frozen  # type: ignore[attr-defined]
            assert kind.needs <= set(Service)
    assert set(TABLE.sources) == set(SOURCES)
    assert set(TABLE.targets) == set(TARGETS)


def test_every_source_kind_is_made_from_the_services_it_declares(cfg: Config, store: Store) -> None:
    for city, source in cfg.sources():
        kind = TABLE.source(source.kind)
        services = Only(kind.needs, store)
        made = kind.make(source, city, services)
        try:
            assert made.id == source.id
        finally:
            made.close()
        servers = kind.servers([(source, city)], services)
        # a kind runs listeners exactly when it says it needs an endpoint
        assert bool(servers) == (Service.ENDPOINT in kind.needs)
        for server in servers:
            server.start()
            server.stop()
        for client in services.clients:
            client.close()
        assert services.touched <= kind.needs


def test_every_target_kind_is_made_from_the_services_it_declares(cfg: Config, store: Store) -> None:
    for city in cfg.cities:
        kind = TABLE.target(city.target.kind)
        services = Only(kind.needs, store)
        made = kind.make(city, services)
        try:
            assert made.id == city.id
        finally:
            made.close()
        assert services.touched <= kind.needs


def test_secrets_are_every_secret_reference_in_the_options_and_check_resolves_them(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a source kind and a target kind may share a name ("feed"): keyed by both
    found: dict[tuple[str, str], list[str]] = {}
    for city in cfg.cities:
        kind = city.target.kind
        found["target", kind] = list(TABLE.target(kind).secrets(city.target.options))
    for _city, s in cfg.sources():
        found["source", s.kind] = list(TABLE.source(s.kind).secrets(s.options))
    for (side, kind), keys in found.items():
        table = (SOURCES if side == "source" else TARGETS)[kind]
        assert keys == [k for k, v in table.items() if isinstance(v, dict) and "env" in v]
    checks = {
        c.target.kind: TABLE.target(c.target.kind).check(c.target.options) for c in cfg.cities
    }
    assert checks == {"outbox": [], "webhook": [], "wordpress": [], "feed": []}
    monkeypatch.delenv("SYNCD_TEST_KIND_SECRET")
    for city in cfg.cities:
        problems = TABLE.target(city.target.kind).check(city.target.options)
        assert bool(problems) == (city.target.kind != "outbox")
        assert all("SYNCD_TEST_KIND_SECRET is not set" in p for p in problems)
    inbound = next(s for _c, s in cfg.sources() if s.kind == "inbound")
    assert TABLE.source("inbound").check(inbound.options) == [
        f"{cfg.path}: cities.{cfg.cities[0].id}.sources.{inbound.id}.secret: environment variable "
        "SYNCD_TEST_KIND_SECRET is not set"
    ]


def test_outbox_check_probes_the_folder_it_writes(tmp_path: Path, cfg: Config) -> None:
    city = next(c for c in cfg.cities if c.target.kind == "outbox")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    opts = dataclasses.replace(city.target.options, path=blocker / "drafts")
    (problem,) = TABLE.target("outbox").check(opts)
    assert problem.startswith(f"{blocker / 'drafts'}: not a folder")


def test_config_validates_against_the_kinds_it_is_given(tmp_path: Path) -> None:
    city = {
        "id": "d",
        "name": "D",
        "language": "de",
        "timezone": "Europe/Berlin",
        "sources": [{"id": "s", "kind": "feed", "interval": "15m", "url": "https://d/"}],
        "target": {"kind": "outbox", "path": "o"},
    }
    only_targets = dataclasses.replace(TABLE, sources={})
    with pytest.raises(ConfigError, match=r"cities\.d\.sources\.s\.kind: expected one of , got"):
        cfgmod.parse({"cities": [city]}, tmp_path / "c.toml", kinds=only_targets)
    parsed = cfgmod.parse({"cities": [city]}, tmp_path / "c.toml", kinds=TABLE)
    assert isinstance(parsed.cities[0].sources[0], SourceConfig)
    assert isinstance(parsed.cities[0], CityConfig)


#: config parses a file of kinds it is handed (plain dataclasses here), in a fresh
#: interpreter, and reports which adapter modules that pulled in
NO_ADAPTER = """
import dataclasses, sys
from pathlib import Path
from syncd import config

@dataclasses.dataclass(frozen=True)
class Options:
    path: str = "o"

class Kind:
    options = Options
    def check_options(self, source, options):
        return None

class Kinds:
    sources = {"plain": Kind()}
    targets = {"plain": Kind()}

city = {"id": "d", "name": "D", "language": "de", "timezone": "Europe/Berlin",
        "sources": [{"id": "s", "kind": "plain", "interval": "15m"}],
        "target": {"kind": "plain"}}
cfg = config.parse({"cities": [city]}, Path("syncd.toml"), kinds=Kinds())
assert cfg.cities[0].sources[0].options == Options()
print(sorted(m for m in sys.modules if m == "httpx" or m.startswith(
    ("syncd.sources", "syncd.targets", "syncd.net", "syncd.kinds", "syncd.store"))))
"""


def test_config_imports_no_adapter() -> None:
    out = subprocess.run(
        [sys.executable, "-c", NO_ADAPTER], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[]"


#: what the table replaced: a kind asked by name, or a module or options probed
SPECIAL_CASE = re.compile(
    r"""kind\s*[!=]=\s*["']|NEEDS_STORE|getattr\(\w+,\s*["'](?:password|secret|path)["']"""
)


def test_the_wiring_asks_the_table_instead_of_testing_a_kind_by_name() -> None:
    # config, app, daemon, status, cli: the modules that used to special-case kinds
    # (inside sources/ and targets/ a kind is itself; translate/ has kinds of flags)
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sorted((ROOT / "syncd").glob("*.py"))
        if path.name != "kinds.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SPECIAL_CASE.search(line)
    ]
    assert offenders == []


LAZY = """
import sys
from pathlib import Path
from syncd import config
from syncd.kinds import TABLE

city = {"id": "d", "name": "D", "language": "de", "timezone": "Europe/Berlin",
        "sources": [{"id": "s", "kind": "feed", "interval": "15m", "url": "https://d/"}],
        "target": {"kind": "outbox", "path": "o"}}
config.parse({"cities": [city]}, Path("syncd.toml"), kinds=TABLE)
print(*sorted(m for m in sys.modules if m.startswith(("syncd.sources.", "syncd.targets."))))
"""


def test_loading_a_config_imports_only_the_kinds_it_uses() -> None:
    # every command loads the config: `syncd models list` must not pay for every adapter
    out = subprocess.run(
        [sys.executable, "-c", LAZY], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    loaded = set(out.split())
    assert {"syncd.sources.feed", "syncd.targets.outbox"} <= loaded
    unused = {"html", "jpage", "inbound", "webhook", "wordpress"}
    assert not {m for m in loaded if m.rsplit(".", 1)[-1] in unused}
