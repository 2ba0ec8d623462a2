"""Config: a bad file is refused with one message naming file, key and expectation."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from syncd.config import Secret, _Ctx, load, parse_dataclass, parse_duration
from syncd.errors import ConfigError
from syncd.kinds import TABLE

GOOD = """
[storage]
url = "sqlite:///state/x.db"

[[cities]]
id = "dueren"
name = "Düren"
language = "de"
timezone = "Europe/Berlin"
sources = [ { id = "d-news", kind = "feed", url = "https://example.org/feed", interval = "15m" } ]
target = { kind = "outbox", path = "drafts/dueren" }

[[cities]]
id = "jinhua"
name = "金华"
language = "zh"
timezone = "Asia/Shanghai"
sources = [ { id = "j-news", kind = "feed", url = "https://example.cn/feed", interval = "1h30m" } ]
target = { kind = "outbox", path = "/abs/drafts" }

[[partnerships]]
cities = ["dueren", "jinhua"]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "syncd.toml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_good_config_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, GOOD), kinds=TABLE)
    assert [c.id for c in cfg.cities] == ["dueren", "jinhua"]
    assert cfg.storage_url() == f"sqlite:///{tmp_path.resolve()}/state/x.db"
    assert cfg.city("dueren").target.options.path == tmp_path.resolve() / "drafts/dueren"
    assert cfg.city("jinhua").target.options.path == Path("/abs/drafts")
    assert cfg.city("jinhua").sources[0].interval == timedelta(hours=1, minutes=30)
    assert [p.id for p in cfg.partners("dueren")] == ["jinhua"]
    assert cfg.routes() == (("de", "zh"), ("zh", "de"))


def test_shipped_example_config_is_valid() -> None:
    cfg = load(Path(__file__).parent.parent / "config" / "syncd.toml", kinds=TABLE)
    assert {c.id for c in cfg.cities} == {"dueren", "jinhua"}


@pytest.mark.parametrize(
    ("old", "new", "key", "expect"),
    [
        (
            'interval = "15m"',
            'interval = "15 minutes"',
            "cities.dueren.sources.d-news.interval",
            "duration",
        ),
        (
            'timezone = "Europe/Berlin"',
            'timezone = "Mars/Olympus"',
            "cities.dueren.timezone",
            "IANA",
        ),
        (
            'cities = ["dueren", "jinhua"]',
            'cities = ["dueren", "paris"]',
            "partnerships[0].cities",
            "unknown city 'paris'",
        ),
        ('id = "j-news"', 'id = "d-news"', "cities.jinhua.sources[0].id", "duplicate source id"),
        ('id = "jinhua"', 'id = "dueren"', "cities[1].id", "duplicate city id"),
        ("[storage]", '[storage]\nurll = "x"', "storage.urll", "unknown key"),
        ('language = "zh"', 'language = "fr"', "cities.jinhua.language", "expected one of"),
        (
            'kind = "feed", url = "https://example.cn/feed"',
            'kind = "carrier-pigeon"',
            "cities.jinhua.sources.j-news.kind",
            "expected one of",
        ),
        (
            'interval = "1h30m"',
            "interval = 90",
            "cities.jinhua.sources.j-news.interval",
            "duration",
        ),
        ('path = "drafts/dueren"', "path = 7", "cities.dueren.target.path", "path"),
    ],
)
def test_bad_config_names_file_key_and_expectation(
    tmp_path: Path, old: str, new: str, key: str, expect: str
) -> None:
    assert old in GOOD
    p = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load(p, kinds=TABLE)
    msg = str(info.value)
    assert str(p.resolve()) in msg
    assert key in msg
    assert expect in msg


@dataclass(frozen=True)
class Opts:
    password: Secret


def test_inline_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="never inline"):
        parse_dataclass(_Ctx(tmp_path / "c.toml", TABLE), "target", Opts, {"password": "hunter2"})
    s = parse_dataclass(
        _Ctx(tmp_path / "c.toml", TABLE), "target", Opts, {"password": {"env": "SYNCD_TEST_PW"}}
    ).password
    assert "hunter2" not in repr(s)
    with pytest.raises(ConfigError, match="SYNCD_TEST_PW is not set"):
        s.resolve()


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml", kinds=TABLE)
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "[[cities]\nid="), kinds=TABLE)
    (tmp_path / "latin1.toml").write_bytes(b'x = "\xe9"')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load(tmp_path / "latin1.toml", kinds=TABLE)


def test_config_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from syncd.config import config_path

    monkeypatch.setenv("SYNCD_CONFIG", str(tmp_path / "env.toml"))
    assert config_path("x.toml") == Path("x.toml")
    assert config_path(None) == tmp_path / "env.toml"
    monkeypatch.delenv("SYNCD_CONFIG")
    assert config_path(None) == Path("config/syncd.toml")


@pytest.mark.parametrize("text", ["", "15", "m", "1x", "-5m", "1h 30m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_storage_password_goes_into_a_server_url_never_into_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.config import parse

    city = {"id": "a", "name": "A", "language": "de", "timezone": "UTC",
            "target": {"kind": "outbox", "path": "d"}}  # fmt: skip
    pg = {"url": "postgresql+psycopg://syncd@db:5432/syncd", "password": {"env": "SYNCD_T_PW"}}
    cfg = parse({"storage": pg, "cities": [city]}, tmp_path / "x.toml", kinds=TABLE)
    with pytest.raises(ConfigError, match="SYNCD_T_PW is not set"):
        cfg.storage_url()
    monkeypatch.setenv("SYNCD_T_PW", "p@ss/w:rd")
    assert cfg.storage_url() == "postgresql+psycopg://syncd:p%40ss%2Fw%3Ard@db:5432/syncd"
    lite = {"url": "sqlite:///state/x.db", "password": {"env": "SYNCD_T_UNSET"}}
    cfg = parse({"storage": lite, "cities": [city]}, tmp_path / "x.toml", kinds=TABLE)
    assert cfg.storage_url() == f"sqlite:///{tmp_path}/state/x.db"
