"""``make_app``: the one place where syncd's parts are wired together.

Every command gets its parts here (``cli.py`` builds none itself). Tests inject fakes
of the edges we don't own here (an ``httpx`` transport, a clock) and nowhere else.
The store is opened by ``make_app``; the polite client and the translator are built
on first use, so a command that needs neither (``syncd status``, ``syncd retry``)
never loads a model. Whatever ``make_app`` opened is closed again if wiring fails, and
everything the app built is closed by ``App.close``.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from . import decide, logs
from .config import CityConfig, Config, SourceConfig
from .errors import ConfigError, StoreError, TargetAuthError
from .intents import LeaseClaim
from .kinds import TABLE, Table
from .metrics import Metrics
from .net.http import PoliteClient
from .sources import Source
from .store import Store
from .targets import Target
from .translate import Translator

if TYPE_CHECKING:
    import httpx

    from .translate.glossary import Glossary

log = logs.get("syncd.app")

#: the store ``make_app(scratch=True)`` opens: in memory, gone at close
SCRATCH_STORE = "sqlite://"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Closeable(Protocol):
    def close(self) -> None: ...


class App:
    """syncd's wired parts; provides ``syncd.kinds.Services`` to the kinds.

    ``store``, ``config``, ``clock``, ``rand``, ``kinds`` and ``target_http`` are set at
    wiring; ``http`` and ``translator`` are properties that build the part on first
    use (thread-safe). Sources and targets are made on first use, from their kind.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        translator: Translator | None = None,
        http: PoliteClient | None = None,
        transport: httpx.BaseTransport | None = None,
        target_http: httpx.Client | None = None,
        clock: Callable[[], datetime] = _utcnow,
        rand: Callable[[], float] = random.random,
        kinds: Table = TABLE,
        owned: list[_Closeable] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        #: set on shutdown: the client ends requests in flight, passes stop between items
        self.stop = stop or threading.Event()
        self.store = store
        self.target_http = target_http
        self.clock = clock
        self.rand = rand
        self.kinds = kinds
        self._translator = translator
        self._metrics: Metrics | None = None
        self._http = http
        self._transport = transport
        self._sources: dict[str, Source] = {}
        self._targets: dict[str, Target] = {}
        # reentrant: making a source (under the lock) builds the client it needs
        self._lock = threading.RLock()
        self._owned: list[_Closeable] = owned if owned is not None else []
        #: who this process is in the store's leases (host, pid and a random tag)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{random.Random().getrandbits(32):08x}"
        self._keeper: threading.Thread | None = None
        self._keeper_stop = threading.Event()

    # -- leases (several replicas on one PostgreSQL; docs/scaling.md)

    def lease_claim(self) -> LeaseClaim:
        """A claim on rows for this process now (``decide.lease_claim``)."""
        policy = decide.LeasePolicy(ttl=self.config.storage.lease, shared=self.store.shared)
        return decide.lease_claim(self.holder, self.clock(), policy)

    def keep_leases(self) -> None:
        """Renew this process's leases every third of their time until ``close``: a
        pass may take longer than a lease (translating a backlog), a dead process
        renews nothing. Started by the commands that run passes."""
        if self._keeper is not None:
            return
        every = max(0.05, self.config.storage.lease.total_seconds() / 3)

        def renew() -> None:
            while not self._keeper_stop.wait(every):
                try:
                    self.store.renew_leases(self.lease_claim())
                except StoreError as exc:  # the next round tries again; leases may end
                    log.warning("lease-renewal-failed", error=str(exc))

        self._keeper = threading.Thread(target=renew, name="syncd-leases", daemon=True)
        self._keeper.start()

    @property
    def http(self) -> PoliteClient:
        """The polite client sources share, built on first use."""
        with self._lock:
            if self._http is None:
                self._http = PoliteClient(
                    self.config.http, transport=self._transport, clock=self.clock, stop=self.stop
                )
                self._owned.append(self._http)
            return self._http

    @property
    def pages(self) -> Store:
        """What page sources remember of article pages: the store."""
        return self.store

    @property
    def translator(self) -> Translator:
        """The translator, built on first use: loading models is left until needed."""
        with self._lock:
            if self._translator is None:
                self._translator = default_translator(self.config, self.store)
                self._owned.append(self._translator)
            return self._translator

    def built_translator(self) -> Translator | None:
        """The translator if something built it already (``/metrics`` never loads one)."""
        return self._translator

    @property
    def metrics(self) -> Metrics:
        """This app's Prometheus metrics (``syncd.metrics``), built on first use."""
        with self._lock:
            if self._metrics is None:
                self._metrics = Metrics()
            return self._metrics

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
        """Whether to use the city's target now (``decide.target_usable``)."""
        usable, change = decide.target_usable(
            self.store.target_health(city_id), self._credential(city_id)
        )
        if change is not None:
            self.store.apply_target_health(change, self.clock())
            log.info("target-credentials-changed", target=city_id)
        return usable

    def mark_target_unhealthy(self, city_id: str, reason: str) -> None:
        change = decide.target_refused(city_id, reason, self._credential(city_id))
        self.store.apply_target_health(change, self.clock())
        log.error("target-unhealthy", target=city_id, reason=reason)

    def close(self) -> None:
        if self._keeper is not None:
            self._keeper_stop.set()
            self._keeper.join()
            self._keeper = None
            try:  # a clean stop: the other replicas need not wait for the leases to end
                self.store.release_all(self.holder)
            except StoreError as exc:
                log.warning("lease-release-failed", error=str(exc))
        for s in self._sources.values():
            s.close()
        for t in self._targets.values():
            t.close()
        for o in reversed(self._owned):
            o.close()


def _local_engine(config: Config, store: Store, glossary: Glossary | None) -> Translator:
    from .translate.engine import ArgosEngine

    return ArgosEngine(
        config.resolve_path(config.models.dir), config.models, glossary=glossary, memory=store
    )


def _libretranslate_engine(config: Config, store: Store, glossary: Glossary | None) -> Translator:
    from .translate.libretranslate import LibreTranslateEngine

    return LibreTranslateEngine(config.translate.engine, glossary=glossary, memory=store)


#: ``[translate] engine`` kinds: how each is made (``config.ENGINE_NEEDS_URL`` checks them)
ENGINES: dict[str, Callable[[Config, Store, Glossary | None], Translator]] = {
    "local": _local_engine,
    "libretranslate": _libretranslate_engine,
}


def default_translator(config: Config, store: Store) -> Translator:
    """The engine ``[translate] engine`` names, with the glossary and the store's memory."""
    from .translate.glossary import load as load_glossary

    try:
        glossary = load_glossary(config.translate.glossary) if config.translate.glossary else None
    except ConfigError as exc:  # one line that names the config key that points at it
        raise ConfigError(config.path, "translate.glossary", str(exc)) from exc
    return ENGINES[config.translate.engine.kind](config, store, glossary)


def make_app(
    config: Config,
    *,
    store: Store | None = None,
    scratch: bool = False,
    translator: Translator | None = None,
    http: PoliteClient | None = None,
    transport: httpx.BaseTransport | None = None,
    target_http: httpx.Client | None = None,
    clock: Callable[[], datetime] | None = None,
    rand: Callable[[], float] | None = None,
    kinds: Table = TABLE,
    owner: str | None = None,
    create: bool = True,
) -> App:
    """Assemble an App. Parts not given are built from ``config``: the store now (with
    ``scratch``, a throwaway one in memory: nothing is recorded), the client and the
    translator on first use.

    ``owner`` names the command that runs passes over the state (``run``, ``sync``): it
    takes the state's owner lock (one process per state) and may create the store
    (``create``, the default for library use); the CLI's other commands pass
    ``create=False`` and open an existing store only."""
    if store is not None and scratch:
        raise ValueError("make_app: give a store or ask for a scratch one, not both")
    owned: list[_Closeable] = []
    try:
        if store is None:
            store = Store(
                SCRATCH_STORE if scratch else config.storage_url(),
                clock=clock,
                create=scratch or create,
                busy_timeout=config.storage.busy_timeout.total_seconds(),
            )
            owned.append(store)
            if owner is not None and not scratch:
                store.claim(owner)
        app = App(
            config,
            store,
            translator=translator,
            http=http,
            transport=transport,
            target_http=target_http,
            clock=clock or _utcnow,
            rand=rand or random.Random().random,
            kinds=kinds,
            owned=owned,
        )
        if owner is not None:
            app.keep_leases()
        return app
    except BaseException:
        for o in reversed(owned):
            o.close()
        raise
