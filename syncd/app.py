"""``make_app``: the one place where syncd's parts are wired together.

Tests inject fakes of the edges we don't own here (an ``httpx`` transport, a clock)
and nowhere else. Whatever ``make_app`` opened is closed again if wiring fails.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from . import logs
from .config import CityConfig, Config, SourceConfig
from .errors import ConfigError, TargetAuthError
from .kinds import TABLE, Table
from .net.http import PoliteClient
from .sources import Source
from .store import Store
from .targets import Target
from .translate import Translator

log = logs.get("syncd.app")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    config: Config
    store: Store
    translator: Translator
    http: PoliteClient
    target_http: httpx.Client | None
    clock: Callable[[], datetime]
    rand: Callable[[], float]
    kinds: Table = TABLE
    _sources: dict[str, Source] = field(default_factory=dict)
    _targets: dict[str, Target] = field(default_factory=dict)
    _target_errors: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _owned: list[Any] = field(default_factory=list)

    def source_config(self, source_id: str) -> tuple[CityConfig, SourceConfig]:
        for city, s in self.config.sources():
            if s.id == source_id:
                return city, s
        raise KeyError(source_id)

    def source(self, source_id: str) -> Source:
        with self._lock:
            src = self._sources.get(source_id)
            if src is None:
                city, cfg = self.source_config(source_id)
                src = self.kinds.source(cfg.kind).make(cfg, city, self)
                self._sources[source_id] = src
            return src

    def target(self, city_id: str) -> Target:
        """The city's target, built on first use. A target whose config cannot be
        used (a missing secret, say) raises ``TargetAuthError``: its deliveries wait,
        the others go on (promise 5)."""
        with self._lock:
            t = self._targets.get(city_id)
            if t is None:
                city = self.config.city(city_id)
                try:
                    t = self.kinds.target(city.target.kind).make(city, self)
                except ConfigError as exc:
                    raise TargetAuthError(city_id, f"target not usable: {exc}") from exc
                self._targets[city_id] = t
            return t

    def _credential(self, city_id: str) -> str | None:
        try:
            t = self.target(city_id)
        except TargetAuthError:
            return "unusable"
        cid = getattr(t, "credential_id", None)
        return None if cid is None else hashlib.sha256(str(cid).encode()).hexdigest()[:16]

    def target_healthy(self, city_id: str) -> bool:
        healthy, _reason, credential = self.store.target_health(city_id)
        if healthy:
            return True
        # An unhealthy target is tried again only once its credentials changed.
        if credential is not None and credential != self._credential(city_id):
            self.store.set_target_health(city_id, True, None, None, self.clock())
            log.info("target-credentials-changed", target=city_id)
            return True
        return False

    def mark_target_unhealthy(self, city_id: str, reason: str) -> None:
        self.store.set_target_health(
            city_id, False, reason, self._credential(city_id) or "none", self.clock()
        )
        log.error("target-unhealthy", target=city_id, reason=reason)

    def close(self) -> None:
        for s in self._sources.values():
            s.close()
        for t in self._targets.values():
            t.close()
        for o in reversed(self._owned):
            o.close()


def default_translator(config: Config, store: Store) -> Translator:
    from .translate.engine import ArgosEngine
    from .translate.glossary import load as load_glossary

    glossary = load_glossary(config.translate.glossary) if config.translate.glossary else None
    return ArgosEngine(
        config.resolve_path(config.models.dir), config.models, glossary=glossary, memory=store
    )


def make_app(
    config: Config,
    *,
    store: Store | None = None,
    translator: Translator | None = None,
    http: PoliteClient | None = None,
    transport: httpx.BaseTransport | None = None,
    target_http: httpx.Client | None = None,
    clock: Callable[[], datetime] | None = None,
    rand: Callable[[], float] | None = None,
    kinds: Table = TABLE,
) -> App:
    """Assemble an App. Parts not given are built from ``config``."""
    owned: list[Any] = []
    clock = clock or _utcnow
    try:
        if store is None:
            store = Store(config.storage_url())
            owned.append(store)
        if http is None:
            http = PoliteClient(config.http, transport=transport, clock=clock)
            owned.append(http)
        if translator is None:
            translator = default_translator(config, store)
            owned.append(translator)
        app = App(
            config=config,
            store=store,
            translator=translator,
            http=http,
            target_http=target_http,
            clock=clock,
            rand=rand or random.Random().random,
            kinds=kinds,
        )
        app._owned = owned
        return app
    except BaseException:
        for o in reversed(owned):
            o.close()
        raise
