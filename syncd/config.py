"""Configuration: one TOML file → frozen, validated objects.

Every error is a ``ConfigError`` naming the file, the key (dotted; cities and
sources by their id: ``cities.jinhua.sources.jinhua-news.interval``, by index only
when the id itself is missing or bad) and what was expected. Unknown keys are errors, so
a typo never silently falls back to a default. Relative paths resolve against the
config file's folder. Secrets are references (``{ env = "NAME" }`` or
``{ file = "path" }``), resolved only when used, and never inline.

Kind-specific keys of sources and targets are declared by each kind's ``Options``
dataclass and validated here from its type annotations (see ``parse_dataclass``). The
kinds are passed in (``load(path, kinds=syncd.kinds.TABLE)``): this module imports no
source or target module, so adapters may import config without a cycle.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, Union, get_args, get_origin
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .sections import (
    _DURATION_RE,
    DEFAULT_INDEX_URL,
    ENGINE_NEEDS_URL,
    AlertsConfig,
    DeskConfig,
    Duration,
    EngineConfig,
    HealthConfig,
    HttpConfig,
    LogConfig,
    ModelsConfig,
    Secret,
    SmtpConfig,
    StorageConfig,
    SyncConfig,
    TranslateConfig,
    WebConfig,
    parse_duration,
)

__all__ = [
    "ENGINE_NEEDS_URL",
    "AlertsConfig",
    "CityConfig",
    "Config",
    "ConfigError",
    "DEFAULT_CONFIG",
    "DEFAULT_INDEX_URL",
    "DeskConfig",
    "Duration",
    "EngineConfig",
    "HealthConfig",
    "HttpConfig",
    "KindSpecs",
    "LANGUAGES",
    "LogConfig",
    "ModelsConfig",
    "Secret",
    "SmtpConfig",
    "SourceConfig",
    "SourceKindSpec",
    "StorageConfig",
    "SyncConfig",
    "TargetConfig",
    "TargetKindSpec",
    "TranslateConfig",
    "WebConfig",
    "_DURATION_RE",
    "config_path",
    "load",
    "parse",
    "parse_dataclass",
    "parse_duration",
]

DEFAULT_CONFIG = Path("config/syncd.toml")
LANGUAGES = {"de": "German", "zh": "Chinese", "zh-Hant": "Chinese (Traditional)", "en": "English"}

_LISTEN_RE = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class SourceConfig:
    id: str
    kind: str
    interval: Duration
    url: str = ""
    jitter: float = 0.1
    enabled: bool = True
    #: regex whose first group (or match) in an item's key or URL is its identity in
    #: the city (``syncd.identity``); empty: the canonical URL
    identity: str = ""
    options: Any = None  # the kind module's Options instance


@dataclass(frozen=True)
class TargetConfig:
    kind: str
    options: Any = None


@dataclass(frozen=True)
class CityConfig:
    id: str
    name: str
    language: str
    timezone: str
    sources: tuple[SourceConfig, ...]
    target: TargetConfig
    #: how the city's own name is written in each language (for attributions)
    names: Mapping[str, str] = field(default_factory=dict)
    #: "desk": drafts wait in the desk for an editor's approval; "target": sent at once
    review: Literal["desk", "target"] = "target"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def name_in(self, language: str) -> str:
        return self.names.get(language) or self.names.get(language.split("-")[0]) or self.name


@dataclass(frozen=True)
class Config:
    path: Path
    cities: tuple[CityConfig, ...]
    partnerships: tuple[tuple[str, ...], ...]
    http: HttpConfig = field(default_factory=HttpConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    translate: TranslateConfig = field(default_factory=TranslateConfig)
    log: LogConfig = field(default_factory=LogConfig)
    web: WebConfig = field(default_factory=WebConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    desk: DeskConfig = field(default_factory=DeskConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def city(self, city_id: str) -> CityConfig:
        for c in self.cities:
            if c.id == city_id:
                return c
        raise KeyError(city_id)

    def partners(self, city_id: str) -> tuple[CityConfig, ...]:
        """Every city that shares a partnership with ``city_id``, in config order."""
        ids: list[str] = []
        for group in self.partnerships:
            if city_id in group:
                ids.extend(c for c in group if c != city_id and c not in ids)
        return tuple(self.city(i) for i in ids)

    def sources(self) -> tuple[tuple[CityConfig, SourceConfig], ...]:
        return tuple((c, s) for c in self.cities for s in c.sources)

    def routes(self) -> tuple[tuple[str, str], ...]:
        """Every (from_language, to_language) the partnerships need."""
        seen: list[tuple[str, str]] = []
        for c in self.cities:
            for p in self.partners(c.id):
                r = (c.language, p.language)
                if r[0] != r[1] and r not in seen:
                    seen.append(r)
        return tuple(seen)

    def resolve_path(self, p: Path) -> Path:
        return p if p.is_absolute() else (self.base_dir / p)

    def storage_url(self) -> str:
        """The store's URL: relative SQLite paths anchored here, the password put in
        (``ConfigError`` when its secret cannot be read)."""
        url = self.storage.url
        if self.storage.password is not None and not url.startswith("sqlite"):
            parts = urlsplit(url)
            user, _, host = parts.netloc.rpartition("@")
            user = user.split(":", 1)[0]
            secret = quote(self.storage.password.resolve(), safe="")
            url = urlunsplit(parts._replace(netloc=f"{user}:{secret}@{host}"))
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith("sqlite:////"):
            rel = url[len(prefix) :]
            if rel and rel != ":memory:":
                return prefix + str(self.resolve_path(Path(rel)))
        return url


# ----------------------------------------------------------------------------- kinds


class TargetKindSpec(Protocol):
    """What config needs of a target kind: the dataclass of its own keys."""

    @property
    def options(self) -> type: ...


class SourceKindSpec(TargetKindSpec, Protocol):
    """What config needs of a source kind: its ``Options`` and a check of what the
    annotations cannot say (``(key, reason)`` of the first problem, or None)."""

    def check_options(self, source: SourceConfig, options: Any) -> tuple[str, str] | None: ...


class KindSpecs(Protocol):
    """The kinds config validates against, by name (``syncd.kinds.TABLE``)."""

    @property
    def sources(self) -> Mapping[str, SourceKindSpec]: ...

    @property
    def targets(self) -> Mapping[str, TargetKindSpec]: ...


# --------------------------------------------------------------------------- parsing


class _Ctx:
    def __init__(self, path: Path, kinds: KindSpecs) -> None:
        self.path = path
        self.base = path.parent
        self.kinds = kinds

    def fail(self, key: str, reason: str) -> typing.NoReturn:
        raise ConfigError(self.path, key, reason)


def _type_name(tp: Any) -> str:
    if tp is Duration:
        return 'a duration like "15m"'
    if tp is Path:
        return "a path (string)"
    if tp is Secret:
        return 'a secret reference { env = "NAME" } or { file = "path" }'
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        tp, str(tp)
    )


def _convert(ctx: _Ctx, key: str, tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(ctx, key, args[0], value)
    if origin is Literal:
        if value not in get_args(tp):
            ctx.fail(key, f"expected {_type_name(tp)}, got {value!r}")
        return value
    if origin is tuple:
        (inner, *_rest) = get_args(tp)
        if not isinstance(value, list):
            ctx.fail(key, f"expected a list, got {type(value).__name__}")
        return tuple(_convert(ctx, f"{key}[{i}]", inner, v) for i, v in enumerate(value))
    if origin in (dict, Mapping, typing.Mapping) or tp in (dict, Mapping):
        kt, vt = get_args(tp) or (str, str)
        if not isinstance(value, dict):
            ctx.fail(key, f"expected a table, got {type(value).__name__}")
        return {str(k): _convert(ctx, f"{key}.{k}", vt, v) for k, v in value.items()}
    if tp is Duration:
        try:
            return Duration(seconds=parse_duration(value).total_seconds())
        except ValueError as exc:
            ctx.fail(key, str(exc))
    if tp is Path:
        if not isinstance(value, str) or not value:
            ctx.fail(key, f"expected {_type_name(tp)}, got {value!r}")
        p = Path(value).expanduser()
        return p if p.is_absolute() else ctx.base / p
    if tp is Secret:
        if isinstance(value, str):
            ctx.fail(key, 'secrets are never inline: use { env = "NAME" } or { file = "path" }')
        if not isinstance(value, dict) or set(value) not in ({"env"}, {"file"}):
            ctx.fail(key, f"expected {_type_name(tp)}, got {value!r}")
        if "env" in value:
            if not isinstance(value["env"], str) or not value["env"]:
                ctx.fail(f"{key}.env", "expected an environment variable name")
            return Secret(env=value["env"], where=f"{ctx.path}: {key}")
        return Secret(
            file=_convert(ctx, f"{key}.file", Path, value["file"]), where=f"{ctx.path}: {key}"
        )
    if tp is bool:
        if not isinstance(value, bool):
            ctx.fail(key, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            ctx.fail(key, f"expected an integer, got {value!r}")
        if value < 0:
            ctx.fail(key, f"expected a non-negative integer, got {value}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            ctx.fail(key, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            ctx.fail(key, f"expected a string, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return parse_dataclass(ctx, key, tp, value)
    raise TypeError(f"config: unsupported annotation {tp!r} at {key}")  # a bug, not input


def parse_dataclass(
    ctx: _Ctx, key: str, cls: type, raw: Any, skip: frozenset[str] = frozenset()
) -> Any:
    """Build ``cls`` from a TOML table, by its field annotations; unknown keys fail."""
    if not isinstance(raw, dict):
        ctx.fail(key, f"expected a table, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name not in skip}
    prefix = f"{key}." if key else ""
    unknown = [k for k in raw if k not in fields and k not in skip]
    if unknown:
        ctx.fail(prefix + unknown[0], f"unknown key; expected one of: {', '.join(sorted(fields))}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in raw:
            kwargs[name] = _convert(ctx, prefix + name, hints[name], raw[name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            ctx.fail(prefix + name, f"missing; expected {_type_name(hints[name])}")
    return cls(**kwargs)


def _named(prefix: str, index: int, raw: Any) -> str:
    """``prefix.<id>`` when the table has a usable id (a person finds it by id), else
    ``prefix[index]``."""
    rid = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(rid, str) and _ID_RE.match(rid):
        return f"{prefix}.{rid}"
    return f"{prefix}[{index}]"


def _check_id(ctx: _Ctx, key: str, value: Any) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        ctx.fail(key, f"expected an id of lowercase letters, digits, - and _, got {value!r}")
    return value


def _parse_source(ctx: _Ctx, key: str, raw: Any) -> SourceConfig:
    if not isinstance(raw, dict):
        ctx.fail(key, "expected a table")
    kinds = ctx.kinds.sources
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        ctx.fail(f"{key}.kind", f"expected one of {', '.join(sorted(kinds))}, got {kind!r}")
    common = {"id", "kind", "interval", "url", "jitter", "enabled", "identity"}
    base = parse_dataclass(
        ctx,
        key,
        SourceConfig,
        {k: v for k, v in raw.items() if k in common},
        skip=frozenset({"options"}),
    )
    _check_id(ctx, f"{key}.id", base.id)
    if not 0 <= base.jitter <= 1:
        ctx.fail(f"{key}.jitter", f"expected a fraction between 0 and 1, got {base.jitter}")
    if base.interval < timedelta(seconds=10):
        ctx.fail(f"{key}.interval", "expected at least 10s")
    try:
        re.compile(base.identity)
    except re.error as exc:
        ctx.fail(f"{key}.identity", f"expected a regular expression: {exc}")
    spec = kinds[kind]
    opts = parse_dataclass(
        ctx, key, spec.options, {k: v for k, v in raw.items() if k not in common}
    )
    problem = spec.check_options(base, opts)
    if problem:
        ctx.fail(problem[0] if problem[0].startswith(key) else f"{key}.{problem[0]}", problem[1])
    result: SourceConfig = dataclasses.replace(base, options=opts)
    return result


def _parse_target(ctx: _Ctx, key: str, raw: Any) -> TargetConfig:
    if not isinstance(raw, dict):
        ctx.fail(key, "expected a table")
    kinds = ctx.kinds.targets
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        ctx.fail(f"{key}.kind", f"expected one of {', '.join(sorted(kinds))}, got {kind!r}")
    opts = parse_dataclass(
        ctx, key, kinds[kind].options, {k: v for k, v in raw.items() if k != "kind"}
    )
    return TargetConfig(kind=kind, options=opts)


def _parse_city(ctx: _Ctx, key: str, raw: Any) -> CityConfig:
    if not isinstance(raw, dict):
        ctx.fail(key, "expected a table")
    allowed = {"id", "name", "language", "timezone", "sources", "target", "names", "review"}
    for k in raw:
        if k not in allowed:
            ctx.fail(f"{key}.{k}", f"unknown key; expected one of: {', '.join(sorted(allowed))}")
    for k in ("id", "name", "language", "timezone", "target"):
        if k not in raw:
            ctx.fail(f"{key}.{k}", "missing")
    cid = _check_id(ctx, f"{key}.id", raw["id"])
    name = _convert(ctx, f"{key}.name", str, raw["name"])
    lang = raw["language"]
    if lang not in LANGUAGES or lang == "en":
        ctx.fail(f"{key}.language", f"expected one of de, zh, zh-Hant, got {lang!r}")
    tzname = _convert(ctx, f"{key}.timezone", str, raw["timezone"])
    try:
        ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError):
        ctx.fail(
            f"{key}.timezone", f'expected an IANA time zone like "Europe/Berlin", got {tzname!r}'
        )
    srcs = raw.get("sources", [])
    if not isinstance(srcs, list):
        ctx.fail(f"{key}.sources", "expected a list of tables")
    sources = tuple(
        _parse_source(ctx, _named(f"{key}.sources", i, s), s) for i, s in enumerate(srcs)
    )
    target = _parse_target(ctx, f"{key}.target", raw["target"])
    names = _convert(ctx, f"{key}.names", dict[str, str], raw.get("names", {}))
    review = _convert(ctx, f"{key}.review", Literal["desk", "target"], raw.get("review", "target"))
    return CityConfig(cid, name, lang, tzname, sources, target, names, review)


def parse(data: dict[str, Any], path: Path, *, kinds: KindSpecs) -> Config:
    """Validate a parsed TOML document; ``path`` names it in errors and anchors paths,
    ``kinds`` are the source and target kinds there are."""
    ctx = _Ctx(path.resolve() if path.exists() else path.absolute(), kinds)
    sections: dict[str, type] = {
        "http": HttpConfig,
        "storage": StorageConfig,
        "models": ModelsConfig,
        "sync": SyncConfig,
        "translate": TranslateConfig,
        "log": LogConfig,
        "web": WebConfig,
        "health": HealthConfig,
        "alerts": AlertsConfig,
        "desk": DeskConfig,
        "smtp": SmtpConfig,
    }
    allowed = set(sections) | {"cities", "partnerships"}
    for k in data:
        if k not in allowed:
            ctx.fail(k, f"unknown key; expected one of: {', '.join(sorted(allowed))}")
    parts = {
        name: parse_dataclass(ctx, name, cls, data.get(name, {})) for name, cls in sections.items()
    }
    engine = parts["translate"].engine
    if ENGINE_NEEDS_URL[engine.kind] and not re.match(r"^https?://[^/\s]+", engine.url):
        ctx.fail("translate.engine.url", f"expected the server's http(s) URL, got {engine.url!r}")
    alerts = parts["alerts"]
    if alerts.smtp_host and not alerts.mail_to:
        ctx.fail("alerts.mail_to", "expected at least one address when alerts.smtp_host is set")
    if alerts.webhook_url:
        if not alerts.webhook_url.startswith(("https://", "http://")):
            ctx.fail("alerts.webhook_url", f"expected an http(s) URL, got {alerts.webhook_url!r}")
        if alerts.webhook_secret is None:
            ctx.fail("alerts.webhook_secret", "missing; the alerts are signed with it")
    listen = parts["web"].listen
    if listen and not _LISTEN_RE.match(listen):
        ctx.fail("web.listen", f'expected "host:port" such as "127.0.0.1:8080", got {listen!r}')
    raw_cities = data.get("cities")
    if not isinstance(raw_cities, list) or not raw_cities:
        ctx.fail("cities", "expected at least one [[cities]] table")
    cities = tuple(_parse_city(ctx, _named("cities", i, c), c) for i, c in enumerate(raw_cities))
    seen: dict[str, str] = {}
    for i, c in enumerate(cities):
        if c.id in seen:
            ctx.fail(f"cities[{i}].id", f"duplicate city id {c.id!r}")
        seen[c.id] = c.id
    source_ids: dict[str, str] = {}
    for c in cities:
        for j, s in enumerate(c.sources):
            if s.id in source_ids:
                ctx.fail(
                    f"cities.{c.id}.sources[{j}].id",
                    f"duplicate source id {s.id!r} (also in {source_ids[s.id]})",
                )
            source_ids[s.id] = c.id
    if not listen:
        for i, c in enumerate(cities):
            for j, s in enumerate(c.sources):
                if s.enabled and getattr(kinds.sources[s.kind], "pushed", False):
                    ctx.fail(
                        f"cities[{i}].sources[{j}]",
                        "a pushed source is served on the web front door: set [web] listen",
                    )
    raw_parts = data.get("partnerships", [])
    if not isinstance(raw_parts, list):
        ctx.fail("partnerships", "expected a list of [[partnerships]] tables")
    partnerships: list[tuple[str, ...]] = []
    for i, p in enumerate(raw_parts):
        key = f"partnerships[{i}]"
        if not isinstance(p, dict) or set(p) != {"cities"}:
            ctx.fail(key, 'expected a table with one key: cities = ["a", "b"]')
        members = p["cities"]
        if not isinstance(members, list) or len(members) < 2 or len(set(members)) != len(members):
            ctx.fail(f"{key}.cities", "expected a list of at least two different city ids")
        for m in members:
            if m not in seen:
                ctx.fail(f"{key}.cities", f"unknown city {m!r}; known: {', '.join(seen)}")
        partnerships.append(tuple(members))
    return Config(path=ctx.path, cities=cities, partnerships=tuple(partnerships), **parts)


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """``--config`` beats ``$SYNCD_CONFIG`` beats ``config/syncd.toml``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("SYNCD_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load(path: str | os.PathLike[str] | None = None, *, kinds: KindSpecs) -> Config:
    """Read and validate the config file (``config_path`` finds it) against ``kinds``."""
    p = config_path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(p, "", f"cannot read config file: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(p, "", f"not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(p, "", f"not valid TOML: {exc}") from exc
    return parse(data, p, kinds=kinds)
