"""The daemon: due sources claimed from the store, explicit run states, graceful stop.

- Every second, and whenever a poll job ends, a claim leases as many due sources (``next_poll_at`` passed,
  never polled, or left by a replica that died) as there are idle workers, from the
  store, ``FOR UPDATE SKIP LOCKED`` (``store.claim_sources``), and runs a poll job for
  each. Interval, jitter, backoff and Retry-After all come from ``decide.next_poll``
  into ``next_poll_at`` and survive a restart. Any number of daemons on one
  PostgreSQL share the sources this way, each source polled by one at a time; on
  SQLite one daemon owns the state (the owner lock) and the claims are its schedule.
- Poll jobs run on a bounded pool of ``sync.workers`` threads: sources never wait for
  each other (a slow server holds only its own source, and every request has a
  total deadline), and a source is never polled twice at once. Deliveries
  (translation, which uses every core, and the pushes) run one pass at a time under
  one lock; their rows are leased too (``sync.deliver``). The leases are renewed
  while the daemon lives (``App.keep_leases``) and released when it stops.
- A job that crashes (a bug, or the store failing) is logged with its traceback and
  its source is not claimed again here before a backoff, never in a tight loop.
- A ``deliver`` job every minute carries retries and items whose models arrived.
- An ``alerts`` job every minute tells the operator what needs a person and what
  recovered (``syncd.alerts``), when ``[alerts]`` names a channel.
- First SIGTERM/SIGINT: requests in flight are abandoned (the client is stopped),
  the current item is finished, exit 0 within seconds. Second: stop at once.
"""

from __future__ import annotations

import enum
import os
import signal
import threading
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from . import alerts, decide, logs, sync
from .app import App
from .config import CityConfig, SourceConfig

log = logs.get("syncd.daemon")

DELIVER_EVERY = timedelta(minutes=1)
#: how often idle workers look for due sources
CLAIM_EVERY = timedelta(seconds=1)
ALERTS_EVERY = timedelta(minutes=1)


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
        self._workers = max(1, app.config.sync.workers)
        self._lock = threading.Lock()  # guards the three below
        self._running: set[str] = set()
        self._crashes: dict[str, int] = {}
        self._not_before: dict[str, datetime] = {}
        self._enabled = [s.id for _c, s in app.config.sources() if s.enabled]
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            executors={
                "default": ThreadPoolExecutor(self._workers),
                "control": ThreadPoolExecutor(1),  # claims: never behind a slow poll
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # -- jobs

    def _claim_job(self) -> None:
        """Lease due sources for the idle workers and run a poll job for each."""
        if self.stop_event.is_set():
            return
        now = self.app.clock()
        with self._lock:
            free = self._workers - len(self._running)
            skip = self._running | {s for s, t in self._not_before.items() if t > now}
        candidates = [s for s in self._enabled if s not in skip]
        if free <= 0 or not candidates:
            return
        try:
            claimed = self.app.store.claim_sources(self.app.lease_claim(), candidates, free)
        except Exception:  # the store failing must not end the daemon: next tick
            log.exception("job-crashed", job="claim")
            return
        for source_id in claimed:
            self._submit(source_id)

    def _submit(self, source_id: str) -> None:
        with self._lock:
            if source_id in self._running:
                return
            self._running.add(source_id)
        self.scheduler.add_job(
            self._poll_job, args=[source_id], id=f"poll:{source_id}", replace_existing=True
        )

    def _poll_job(self, source_id: str) -> None:
        crashed = False
        try:
            if self.stop_event.is_set():
                return
            sync.poll(self.app, source_id)  # under the source's lease, released after
            if not self.stop_event.is_set():
                with self._deliver_lock:
                    sync.deliver(self.app, [source_id], stop=self.stop_event)
        except Exception:
            # a bug in one source's run, or the store failing, must not end the daemon
            # (promise 5): logged loudly with its traceback, tried again with backoff
            log.exception("job-crashed", source=source_id)
            crashed = True
        finally:
            self._done(source_id, crashed=crashed)

    def _done(self, source_id: str, *, crashed: bool) -> None:
        _city, cfg = self.app.source_config(source_id)
        now = self.app.clock()
        with self._lock:
            self._running.discard(source_id)
            crashes = self._crashes.get(source_id, 0) + 1 if crashed else 0
            self._crashes[source_id] = crashes
            if crashes:  # what the store could not record: back off here, never spin
                cap = self.app.config.sync.max_poll_delay
                delay = decide.backoff(crashes, cfg.interval, cap, self.app.rand())
                self._not_before[source_id] = now + delay
            else:
                self._not_before.pop(source_id, None)
        self._claim_job()  # a worker is free: take the next due source now, not next tick

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

    def _alerts_job(self) -> None:
        if self.stop_event.is_set():
            return
        try:
            alerts.check(self.app)
        except Exception:
            log.exception("job-crashed", job="alerts")

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
        self.app.store.ensure_sources(
            [(s.id, c.id) for c, s in self.app.config.sources() if s.enabled]
        )
        self.app.keep_leases()
        self.scheduler.start()
        for _city, s in self.app.config.sources():
            if s.enabled and self.app.kinds.source(s.kind).pushed:
                self._submit(s.id)  # pushed items wait in the queue: look at it at once
        self.scheduler.add_job(
            self._claim_job,
            "interval",
            seconds=CLAIM_EVERY.total_seconds(),
            id="claim",
            executor="control",
        )
        self.scheduler.add_job(
            self._deliver_job, "interval", seconds=DELIVER_EVERY.total_seconds(), id="deliver"
        )
        if self.app.config.alerts.enabled:
            self.scheduler.add_job(
                self._alerts_job, "interval", seconds=ALERTS_EVERY.total_seconds(), id="alerts"
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
