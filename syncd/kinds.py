"""The one table of source and target kinds. Contains no business logic.

Config, wiring, the daemon and ``syncd check`` ask a kind what it provides instead of
testing ``kind == "…"`` (STYLE.md rule 16). Every kind says:

- ``options``: the frozen dataclass of its own config keys (config validates them from
  the annotations; ``check_options`` of a source kind checks what annotations cannot);
- ``secrets(options)``: the secret references it holds, by key;
- ``check(options)``: what ``syncd check`` reports about it, one line per problem
  (a secret that cannot be read, a folder it writes that is not writable);
- ``needs``: the services it takes from the app (``Service``); ``make`` gets them
  through ``Services`` (which ``syncd.app.App`` provides) and touches no other;
- ``make(…)``: the ``Source`` / ``Target`` for one configured source / city.

A source kind also says whether its items are ``pushed`` into the store's queue (the
daemon then looks at the queue every ``interval`` instead of following the stored next
poll) and which ``servers`` the daemon starts for its enabled sources (the inbound
endpoint).

A new kind is one module, one loader and one entry in ``TABLE``; a kind's module is
imported on the kind's first lookup. Only the wiring layer (``app``, ``cli``) imports
this module; ``config`` receives the table as ``kinds=`` so that it imports no adapter.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .config import CityConfig, Secret, SourceConfig, SourceKindSpec, TargetKindSpec
from .errors import ConfigError
from .sources import Source
from .targets import Target

if TYPE_CHECKING:
    import httpx

    from .net.http import PoliteClient
    from .sources.page import PageMemory
    from .store import Store


class Service(enum.StrEnum):
    """What a kind may take from the app."""

    #: the shared polite client (``Services.http``)
    HTTP = "http"
    #: the store's queue of pushed messages (``Services.store``)
    QUEUE = "queue"
    #: a listener the daemon starts and stops (``servers``)
    ENDPOINT = "endpoint"
    #: the injected httpx client targets talk through; None: the target builds its own
    TARGET_HTTP = "target-http"
    #: the injected clock
    CLOCK = "clock"
    #: the store's memory of article pages (``Services.pages``)
    PAGES = "pages"


class Services(Protocol):
    """The parts a kind is made with; ``App`` provides them (built on first use)."""

    @property
    def http(self) -> PoliteClient: ...

    @property
    def store(self) -> Store: ...

    @property
    def pages(self) -> PageMemory: ...

    @property
    def target_http(self) -> httpx.Client | None: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


class Server(Protocol):
    """A listener the daemon runs for a kind (``start`` returns once it listens)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class SourceKind(SourceKindSpec, Protocol):
    """What a source kind provides (see the module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def needs(self) -> frozenset[Service]: ...

    @property
    def pushed(self) -> bool: ...

    def secrets(self, options: Any) -> Mapping[str, Secret]: ...

    def check(self, options: Any) -> list[str]: ...

    def make(self, source: SourceConfig, city: CityConfig, services: Services) -> Source: ...

    def servers(
        self, sources: Sequence[tuple[SourceConfig, CityConfig]], services: Services
    ) -> list[Server]:
        """Listeners for these (enabled, this kind's) sources; none for polled kinds."""
        ...


class TargetKind(TargetKindSpec, Protocol):
    """What a target kind provides (see the module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def needs(self) -> frozenset[Service]: ...

    def secrets(self, options: Any) -> Mapping[str, Secret]: ...

    def check(self, options: Any) -> list[str]: ...

    def make(self, city: CityConfig, services: Services) -> Target: ...


# ------------------------------------------------------------------------ helpers


def secrets_of(options: Any) -> dict[str, Secret]:
    """Every field of an ``Options`` dataclass that holds a secret reference."""
    if options is None:
        return {}
    found = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    return {k: v for k, v in found.items() if isinstance(v, Secret)}


def secret_problems(secrets: Mapping[str, Secret]) -> list[str]:
    problems: list[str] = []
    for secret in secrets.values():
        try:
            secret.resolve()
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def writable_problem(path: Path) -> str | None:
    """None when syncd could write files in ``path``, else why not. Changes nothing:
    a missing folder counts when the nearest existing parent is writable (syncd makes
    it on first use); permissions are asked, not tried."""
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        return f"{path}: not a folder ({existing} is in the way)"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{path}: not writable ({existing} does not allow it)"
    return None


def _no_options_check(source: SourceConfig, options: Any) -> tuple[str, str] | None:
    return None


def _writes_nothing(options: Any) -> tuple[Path, ...]:
    return ()


# ------------------------------------------------------------------------ sources


class _OptionsChecks:
    """What every source kind answers the same way: its option check, its secrets
    (every ``Secret`` in its options) and their problems for ``syncd check``."""

    validate: Callable[[SourceConfig, Any], tuple[str, str] | None]

    def check_options(self, source: SourceConfig, options: Any) -> tuple[str, str] | None:
        return self.validate(source, options)

    def secrets(self, options: Any) -> Mapping[str, Secret]:
        return secrets_of(options)

    def check(self, options: Any) -> list[str]:
        return secret_problems(self.secrets(options))


@dataclass(frozen=True)
class PolledKind(_OptionsChecks):
    """A source syncd polls through the shared client (feed)."""

    name: str
    options: type
    build: Callable[[SourceConfig, CityConfig, PoliteClient], Source]
    validate: Callable[[SourceConfig, Any], tuple[str, str] | None] = _no_options_check
    needs: frozenset[Service] = frozenset({Service.HTTP})
    pushed: bool = False

    def make(self, source: SourceConfig, city: CityConfig, services: Services) -> Source:
        return self.build(source, city, services.http)

    def servers(
        self, sources: Sequence[tuple[SourceConfig, CityConfig]], services: Services
    ) -> list[Server]:
        return []


@dataclass(frozen=True)
class PagedKind(_OptionsChecks):
    """A source that reads article pages (html, jpage): polled through the shared
    client, remembering each article page in the store (``PageMemory``) so that an
    unchanged article is not fetched again, across processes."""

    name: str
    options: type
    build: Callable[[SourceConfig, CityConfig, PoliteClient, PageMemory], Source]
    validate: Callable[[SourceConfig, Any], tuple[str, str] | None] = _no_options_check
    needs: frozenset[Service] = frozenset({Service.HTTP, Service.PAGES})
    pushed: bool = False

    def make(self, source: SourceConfig, city: CityConfig, services: Services) -> Source:
        return self.build(source, city, services.http, services.pages)

    def servers(
        self, sources: Sequence[tuple[SourceConfig, CityConfig]], services: Services
    ) -> list[Server]:
        return []


@dataclass(frozen=True)
class PushedKind(_OptionsChecks):
    """The partner pushes items to an endpoint the daemon runs; they wait in the
    store's queue until the source's next look (inbound)."""

    name: str
    options: type
    validate: Callable[[SourceConfig, Any], tuple[str, str] | None]
    build: Callable[[SourceConfig, CityConfig, Store], Source]
    serve: Callable[
        [Sequence[tuple[SourceConfig, CityConfig]], Store, Callable[[], datetime]],
        Sequence[Server],
    ]
    needs: frozenset[Service] = frozenset({Service.QUEUE, Service.ENDPOINT, Service.CLOCK})
    pushed: bool = True

    def make(self, source: SourceConfig, city: CityConfig, services: Services) -> Source:
        return self.build(source, city, services.store)

    def servers(
        self, sources: Sequence[tuple[SourceConfig, CityConfig]], services: Services
    ) -> list[Server]:
        return list(self.serve(sources, services.store, services.clock))


# ------------------------------------------------------------------------ targets

TargetFactory = Callable[[CityConfig, "httpx.Client | None", Callable[[], datetime]], Target]


@dataclass(frozen=True)
class ModuleTargetKind:
    """A target kind module's ``Options`` and ``make(city, http, clock)``."""

    name: str
    options: type
    build: TargetFactory
    needs: frozenset[Service]
    #: the folders the kind writes to, probed by ``check``
    writes: Callable[[Any], tuple[Path, ...]] = field(default=_writes_nothing)

    def secrets(self, options: Any) -> Mapping[str, Secret]:
        return secrets_of(options)

    def check(self, options: Any) -> list[str]:
        problems = secret_problems(self.secrets(options))
        for folder in self.writes(options):
            problem = writable_problem(folder)
            if problem:
                problems.append(problem)
        return problems

    def make(self, city: CityConfig, services: Services) -> Target:
        http = services.target_http if Service.TARGET_HTTP in self.needs else None
        return self.build(city, http, services.clock)


def _outbox_folders(options: Any) -> tuple[Path, ...]:
    return (Path(options.path),)


# -------------------------------------------------------------------------- table

K = TypeVar("K", covariant=True)


class _Lazy(Mapping[str, K], Generic[K]):
    """Kinds by name, each kind's module imported on its first lookup: every command
    loads the config, and a config that uses two kinds imports two adapters."""

    def __init__(self, loaders: Mapping[str, Callable[[], K]]) -> None:
        self._loaders = dict(loaders)
        self._made: dict[str, K] = {}

    def __getitem__(self, name: str) -> K:
        kind = self._made.get(name)
        if kind is None:
            kind = self._made[name] = self._loaders[name]()
        return kind

    def __contains__(self, name: object) -> bool:
        return name in self._loaders

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)


@dataclass(frozen=True)
class Table:
    """Kinds by name; config validates against it (``kinds=``), the app makes with it."""

    sources: Mapping[str, SourceKind]
    targets: Mapping[str, TargetKind]

    def source(self, kind: str) -> SourceKind:
        """KeyError for an unknown kind: config accepted it, so that is a bug."""
        return self.sources[kind]

    def target(self, kind: str) -> TargetKind:
        return self.targets[kind]


def _feed() -> SourceKind:
    from .sources import feed

    return PolledKind("feed", feed.Options, feed.make)


def _html() -> SourceKind:
    from .sources import html

    return PagedKind("html", html.Options, html.make, html.check_options)


def _jpage() -> SourceKind:
    from .sources import jpage

    return PagedKind("jpage", jpage.Options, jpage.make, jpage.check_options)


def _inbound() -> SourceKind:
    from .sources import inbound, inbound_server

    # served on the web front door (syncd.web.inbound): no listener of its own
    return PushedKind(
        "inbound", inbound.Options, inbound.check_options, inbound.InboundSource,
        inbound_server.servers_for, needs=frozenset({Service.QUEUE, Service.CLOCK}),
    )  # fmt: skip


_TARGET_HTTP = frozenset({Service.TARGET_HTTP, Service.CLOCK})


def _outbox() -> TargetKind:
    from .targets import outbox

    return ModuleTargetKind(
        "outbox", outbox.Options, outbox.make, frozenset({Service.CLOCK}), _outbox_folders
    )


def _feed_target() -> TargetKind:
    from .targets import feed

    return ModuleTargetKind(
        "feed", feed.Options, feed.make, frozenset({Service.CLOCK}), _outbox_folders
    )


def _webhook() -> TargetKind:
    from .targets import webhook

    return ModuleTargetKind("webhook", webhook.Options, webhook.make, _TARGET_HTTP)


def _wordpress() -> TargetKind:
    from .targets import wordpress

    return ModuleTargetKind("wordpress", wordpress.Options, wordpress.make, _TARGET_HTTP)


#: every kind syncd knows: a new kind is one module and one line here
TABLE = Table(
    sources=_Lazy({"feed": _feed, "html": _html, "jpage": _jpage, "inbound": _inbound}),
    targets=_Lazy(
        {"outbox": _outbox, "webhook": _webhook, "wordpress": _wordpress, "feed": _feed_target}
    ),
)
