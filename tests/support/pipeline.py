"""An in-process syncd for fast pipeline tests. Contains no business logic.

Wires the real parts through ``syncd.app.make_app`` (real store on a SQLite file, real
sources and targets) and fakes only the edges syncd does not own: the feeds are an
``httpx.MockTransport`` (a fake *server*), translation is ``FakeTranslator``, time is
a settable ``Clock``, randomness is 0. No CLI, no models: a pass takes milliseconds.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from syncd import config as cfgmod
from syncd.app import App, make_app
from syncd.config import Config
from syncd.kinds import TABLE
from syncd.store import Store
from syncd.sync import deliver, poll
from tests.support.feeds import Entry, rss
from tests.support.translator import FakeTranslator

if TYPE_CHECKING:  # row and result types may move while store and sync are reshaped
    from syncd.store import DeliveryRow
    from syncd.sync import DeliverResult, PollResult

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DUEREN_FEED = "https://www.dueren.example/news.xml"
JINHUA_FEED = "https://www.jinhua.example/news.xml"
#: every route the Düren ⇄ Jinhua partnership needs
ROUTES = (("de", "zh"), ("zh", "de"))


class SimulatedCrash(BaseException):  # noqa: N818 (it is not an error: the process dies)
    """The process dies here (as by SIGKILL): nothing after this point runs.

    A ``BaseException`` so that no ``except Exception`` in syncd can swallow it.
    """


class Clock:
    """Settable UTC clock. ``crash_when`` (a condition) turns the next reading taken
    while it holds into a ``SimulatedCrash``: e.g. "once the draft file exists"."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now
        self.crash_when: Callable[[], bool] | None = None

    def __call__(self) -> datetime:
        if self.crash_when is not None and self.crash_when():
            self.crash_when = None
            raise SimulatedCrash("killed while the pass was running")
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def pub(dt: datetime) -> str:
    """An RSS pubDate for ``dt``."""
    return email.utils.format_datetime(dt)


class Feeds:
    """RSS feeds by URL, served live through ``httpx.MockTransport``: change the
    lists between passes and the next poll sees it. Unknown URLs answer 404."""

    def __init__(self) -> None:
        self.entries: dict[str, list[Entry]] = {DUEREN_FEED: [], JINHUA_FEED: []}
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        entries = self.entries.get(str(request.url))
        if entries is None:
            return httpx.Response(404, content=b"not found")
        return httpx.Response(
            200, content=rss(entries), headers={"Content-Type": "application/rss+xml"}
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def feed(source_id: str, url: str) -> dict[str, Any]:
    return {"id": source_id, "kind": "feed", "url": url, "interval": "15m", "jitter": 0.0}


def outbox(city: str) -> dict[str, Any]:
    return {"kind": "outbox", "path": f"drafts/{city}"}


def two_cities(
    tmp_path: Path,
    *,
    dueren_target: dict[str, Any] | None = None,
    jinhua_target: dict[str, Any] | None = None,
    sync: dict[str, Any] | None = None,
    dueren_sources: Sequence[dict[str, Any]] = (feed("dueren-news", DUEREN_FEED),),
    jinhua_sources: Sequence[dict[str, Any]] = (feed("jinhua-news", JINHUA_FEED),),
    review: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Config:
    """Düren (de) ⇄ Jinhua (zh), one feed each, outbox targets unless given;
    every path inside ``tmp_path``. Validated by syncd's own config parser.
    ``review``: city id → "desk" | "target"; ``extra``: more top-level sections."""
    data = {
        "http": {"allow_private": True, "host_delay": "0s", "timeout": "5s",
                 "respect_robots": False},
        "sync": {"first_run_max_age": "3650d", "retry_base": "1s", **(sync or {})},
        "cities": [
            {"id": "dueren", "name": "Düren", "language": "de", "timezone": "Europe/Berlin",
             "names": {"zh": "迪伦"}, "sources": list(dueren_sources),
             "target": dueren_target or outbox("dueren")},
            {"id": "jinhua", "name": "金华", "language": "zh", "timezone": "Asia/Shanghai",
             "names": {"de": "Jinhua"}, "sources": list(jinhua_sources),
             "target": jinhua_target or outbox("jinhua")},
        ],
        "partnerships": [{"cities": ["dueren", "jinhua"]}],
        **(extra or {}),
    }  # fmt: skip
    for city in data["cities"]:
        if review and city["id"] in review:
            city["review"] = review[city["id"]]
    return cfgmod.parse(data, tmp_path / "syncd.toml", kinds=TABLE)


class Pipelines(list["Pipeline"]):
    """The pipelines a test opened (closed after it), on the test's store backend."""

    def __init__(self, store_url: str) -> None:
        super().__init__()
        self.store_url = store_url

    def close(self) -> None:
        for p in self:
            p.close()


class Pipeline:
    """One syncd "process" on ``tmp_path``: ``sync()`` is one pass (every source polled,
    then every due delivery), ``restart()`` a new process on the same state."""

    def __init__(
        self,
        tmp_path: Path,
        config: Config,
        *,
        feeds: Feeds | None = None,
        translator: FakeTranslator | None = None,
        target_http: httpx.Client | None = None,
        clock: Clock | None = None,
        store_url: str | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        #: a SQLite file in ``tmp_path`` unless given (the ``store_url`` fixture: both backends)
        self.store_url = store_url or f"sqlite:///{tmp_path}/state/syncd.db"
        self.config = config
        self.feeds = feeds or Feeds()
        self.translator = translator if translator is not None else FakeTranslator(ROUTES)
        self.target_http = target_http
        self.clock = clock or Clock()
        self.polls: list[PollResult] = []
        self._open()

    def _open(self) -> None:
        self.store = Store(self.store_url)
        try:
            self.app: App = make_app(
                self.config,
                store=self.store,
                translator=self.translator,
                transport=self.feeds.transport(),
                target_http=self.target_http,
                clock=self.clock,
                rand=lambda: 0.0,
            )
        except BaseException:
            self.store.close()
            raise

    def poll(self) -> list[PollResult]:
        self.polls = [poll(self.app, s.id) for _city, s in self.config.sources()]
        return self.polls

    def deliver(self) -> DeliverResult:
        return deliver(self.app)

    def sync(self) -> DeliverResult:
        self.poll()
        failed = [p for p in self.polls if not p.ok]
        assert not failed, failed
        return self.deliver()

    def restart(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        try:
            self.app.close()
        finally:
            self.store.close()

    # -- reading what happened

    def delivery(self, key: str, target: str) -> DeliveryRow:
        for d, item in self.store.deliveries():
            if item.key == key and d.target_city == target:
                return d
        raise AssertionError(f"no delivery of {key!r} to {target}")

    def states(self) -> dict[tuple[str, str], str]:
        """(item key, target city) → delivery state, for every delivery."""
        return {(item.key, d.target_city): d.state.value for d, item in self.store.deliveries()}

    def outbox(self, city: str) -> list[Path]:
        """The draft sidecars in ``city``'s outbox folder."""
        folder = self.tmp_path / "drafts" / city
        return sorted(folder.glob("syncd-*.json")) if folder.is_dir() else []
