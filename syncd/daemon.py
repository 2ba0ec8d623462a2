"""The daemon: one APScheduler job per source, explicit run states, graceful stop.

- Each source's job is a one-shot date trigger at the source's ``next_poll_at`` from
  the store, re-armed after every run: interval, jitter, backoff and Retry-After all
  come from ``decide.next_poll`` and survive a restart.
- Jobs run on a bounded pool of ``sync.workers`` threads with ``max_instances=1``
  and ``coalesce``: sources never wait for each other (a slow server holds only its
  own source, and every request has a total deadline), and a source never overlaps
  itself. Deliveries (translation, which uses every core, and the pushes) run one
  at a time under one lock.
- A job that crashes (a bug, or the store failing) is logged with its traceback and
  re-armed with backoff, never in a tight loop.
- A ``deliver`` job every minute carries retries and items whose models arrived.
- First SIGTERM/SIGINT: requests in flight are abandoned (the client is stopped),
  the current item is finished, exit 0 within seconds. Second: stop at once.
"""

from __future__ import annotations

import enum
import os
import signal
import threading
from datetime import timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from . import decide, logs, sync
from .app import App
from .config import CityConfig, SourceConfig

log = logs.get("syncd.daemon")

DELIVER_EVERY = timedelta(minutes=1)


def _pushed_every(cfg: SourceConfig) -> timedelta:
    """Pushed items wait in the store's queue: look at it often (at least every 10 s)."""
    return max(timedelta(seconds=10), cfg.interval)


class RunState(enum.StrEnum):
    STARTING = "starting"
    STARTED = "started"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Daemon:
    def __init__(self, app: App) -> None:
        self.app = app
        self.state = RunState.STOPPED
        self.stop_event = app.stop  # also stops the HTTP client's requests in flight
        self._signals = 0
        self._servers: list[Any] = []
        self._deliver_lock = threading.Lock()
        self._crashes: dict[str, int] = {}
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            executors={"default": ThreadPoolExecutor(max(1, app.config.sync.workers))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # -- jobs

    def _poll_job(self, source_id: str) -> None:
        if self.stop_event.is_set():
            return
        crashed = False
        try:
            sync.poll(self.app, source_id)
            if not self.stop_event.is_set():
                with self._deliver_lock:
                    sync.deliver(self.app, [source_id], stop=self.stop_event)
        except Exception:
            # a bug in one source's run, or the store failing, must not end the daemon
            # (promise 5): logged loudly with its traceback, tried again with backoff
            log.exception("job-crashed", source=source_id)
            crashed = True
        finally:
            self._arm(source_id, crashed=crashed)

    def _deliver_job(self) -> None:
        if self.stop_event.is_set():
            return
        try:
            with self._deliver_lock:
                sync.deliver(self.app, stop=self.stop_event)
        except Exception:
            log.exception("job-crashed", job="deliver")

    def _digest_job(self) -> None:
        from . import digest

        try:
            digest.send_due(self.app)
        except Exception:
            log.exception("job-crashed", job="digest")

    def _arm(self, source_id: str, *, crashed: bool = False) -> None:
        if self.stop_event.is_set():
            return
        _city, cfg = self.app.source_config(source_id)
        now = self.app.clock()
        when = now
        try:
            row = self.app.store.source(source_id, _city.id)
            if row.next_poll_at and row.next_poll_at > now:
                when = row.next_poll_at
        except Exception:
            log.exception("job-crashed", source=source_id, step="arm")
            crashed = True
        crashes = self._crashes.get(source_id, 0) + 1 if crashed else 0
        self._crashes[source_id] = crashes
        if crashes:  # what the store could not record: back off here, never spin
            cap = self.app.config.sync.max_poll_delay
            when = max(when, now + decide.backoff(crashes, cfg.interval, cap, self.app.rand()))
        elif self.app.kinds.source(cfg.kind).pushed:
            when = now + _pushed_every(cfg)
        self.scheduler.add_job(
            self._poll_job,
            "date",
            run_date=when,
            args=[source_id],
            id=f"poll:{source_id}",
            replace_existing=True,
        )

    # -- lifecycle

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals >= 2:
            log.warning("stopping-now", signal=signal.Signals(signum).name)
            os._exit(130)
        log.info("stopping", signal=signal.Signals(signum).name, note="finishing the current item")
        self.state = RunState.STOPPING
        self.stop_event.set()

    def start(self) -> None:
        self.state = RunState.STARTING
        for route in self.app.config.routes():
            for problem in self.app.translator.missing(*route):
                log.warning("model-missing", route=f"{route[0]}->{route[1]}", problem=problem)
        self._start_servers()
        self._start_web()
        self.scheduler.start()
        for _city, s in self.app.config.sources():
            if not s.enabled:
                continue
            if self.app.kinds.source(s.kind).pushed:  # look at the queue at once
                self.scheduler.add_job(
                    self._poll_job, "date", run_date=self.app.clock(), args=[s.id],
                    id=f"poll:{s.id}", replace_existing=True,
                )  # fmt: skip
            else:
                self._arm(s.id)
        self.scheduler.add_job(
            self._deliver_job, "interval", seconds=DELIVER_EVERY.total_seconds(), id="deliver"
        )
        if self.app.config.smtp.host:  # the desk's e-mail digests (syncd.digest)
            self.scheduler.add_job(self._digest_job, "interval", minutes=5, id="digest")
        self.state = RunState.STARTED
        enabled = [s for _c, s in self.app.config.sources() if s.enabled]
        log.info("started", sources=len(enabled), pid=os.getpid())

    def _start_servers(self) -> None:
        """Start the listeners kinds run for their enabled sources (inbound endpoints)."""
        by_kind: dict[str, list[tuple[SourceConfig, CityConfig]]] = {}
        for city, s in self.app.config.sources():
            if s.enabled:
                by_kind.setdefault(s.kind, []).append((s, city))
        for kind, group in by_kind.items():
            for server in self.app.kinds.source(kind).servers(group, self.app):
                server.start()
                self._servers.append(server)

    def _start_web(self) -> None:
        """The web front door, when ``[web] listen`` is set (one listener, one process)."""
        web = self.app.config.web
        if not web.listen:
            return
        from .web import WebContext, WebServer, make_web_app

        ctx = WebContext(
            self.app,
            run_state=lambda: self.state.value,
            scheduler_alive=lambda: bool(self.scheduler.running),
        )
        server = WebServer(
            make_web_app(ctx),
            web.listen,
            root_path=web.root_path,
            forwarded_allow_ips=web.forwarded_allow_ips,
        )
        server.start()
        self._servers.append(server)

    def stop(self) -> None:
        self.state = RunState.STOPPING
        self.stop_event.set()
        for server in self._servers:
            server.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)  # the running job finishes its item
        self.state = RunState.STOPPED
        log.info("stopped")

    def run_forever(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self.start()
            while not self.stop_event.wait(1.0):
                pass
        except Exception:
            log.exception("crashed")
            self.stop()
            return 1
        self.stop()
        return 0
