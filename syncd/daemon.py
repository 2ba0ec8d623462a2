"""The daemon: one APScheduler job per source, explicit run states, graceful stop.

- Each source's job is a one-shot date trigger at the source's ``next_poll_at`` from
  the store, re-armed after every run: interval, jitter, backoff and Retry-After all
  come from ``decide.next_poll`` and survive a restart.
- Jobs run on one worker thread (SQLite has one writer; translation uses every core
  anyway), with ``max_instances=1`` and ``coalesce``: a source never overlaps itself.
- A ``deliver`` job every minute carries retries and items whose models arrived.
- First SIGTERM/SIGINT: finish the current item, stop, exit 0. Second: stop at once.
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

from . import logs, sync
from .app import App
from .config import CityConfig, SourceConfig

log = logs.get("syncd.daemon")

DELIVER_EVERY = timedelta(minutes=1)


class RunState(enum.StrEnum):
    STARTING = "starting"
    STARTED = "started"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Daemon:
    def __init__(self, app: App) -> None:
        self.app = app
        self.state = RunState.STOPPED
        self.stop_event = threading.Event()
        self._signals = 0
        self._servers: list[Any] = []
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # -- jobs

    def _poll_job(self, source_id: str) -> None:
        if self.stop_event.is_set():
            return
        try:
            sync.poll(self.app, source_id)
            if not self.stop_event.is_set():
                sync.deliver(self.app, [source_id], stop=self.stop_event)
        except Exception:
            # a bug in one source's run must not end the daemon (promise 5); it is
            # logged loudly with its traceback and the source is tried again later
            log.exception("job-crashed", source=source_id)
        finally:
            self._arm(source_id)

    def _deliver_job(self) -> None:
        if self.stop_event.is_set():
            return
        try:
            sync.deliver(self.app, stop=self.stop_event)
        except Exception:
            log.exception("job-crashed", job="deliver")

    def _arm(self, source_id: str) -> None:
        if self.stop_event.is_set():
            return
        city, _cfg = self.app.source_config(source_id)
        row = self.app.store.source(source_id, city.id)
        now = self.app.clock()
        when = row.next_poll_at if row.next_poll_at and row.next_poll_at > now else now
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
        self.scheduler.start()
        for _city, s in self.app.config.sources():
            if not s.enabled:
                continue
            if not self.app.kinds.source(s.kind).pushed:
                self._arm(s.id)
            else:  # pushed items wait in the store: look at the queue often
                self.scheduler.add_job(
                    self._poll_job, "interval", seconds=max(10, int(s.interval.total_seconds())),
                    args=[s.id], id=f"poll:{s.id}", next_run_time=self.app.clock(),
                )  # fmt: skip
        self.scheduler.add_job(
            self._deliver_job, "interval", seconds=DELIVER_EVERY.total_seconds(), id="deliver"
        )
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
