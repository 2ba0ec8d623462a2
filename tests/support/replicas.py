"""Many city pairs served on 127.0.0.1, and ``syncd run`` replicas working on them.

For the chaos test (tests/test_replicas.py) and the benchmark (bench/replicas.py).
Contains no business logic.

- ``Farm``: one loopback server with a feed per source (``/feed/<source>.xml``, each
  answer ``delay`` seconds long) and a webhook receiver per city (``/hook/<city>``).
  It records when each feed request started and ended, so that two polls of one
  source at once show as an overlap, and every webhook POST (type, marker, id).
- ``write_config``: ``pairs`` German⇄Chinese city pairs (``de0``⇄``zh0``, …), each city
  with ``sources`` feeds and a webhook target, on the store at ``store_url``.
- ``Replica``: a ``syncd run`` subprocess (its log in a file) that can be SIGKILLed and
  started again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO

from tests.support.feeds import Entry, rss
from tests.support.loopback import LoopbackServer, Reply, Request

HOOK_ENV = "SYNCD_REPLICA_HOOK_SECRET"
HOOK_SECRET = "whsec_c3luY2QtcmVwbGljYS1zZWNyZXQtMzItYnl0ZXMhIQ=="
DE_TEXT = (
    "Hallo Welt.",
    "Düren ist eine Stadt in Deutschland.",
    "Der Bürgermeister besucht Jinhua.",
)
ZH_TEXT = ("你好世界。", "迪伦有 90000居民。", "该市长访问金华。")


def cities(pairs: int) -> list[tuple[str, str]]:
    """(city id, language) of every city, pair by pair."""
    return [c for i in range(pairs) for c in ((f"de{i}", "de"), (f"zh{i}", "zh"))]


def source_ids(pairs: int, sources: int) -> list[str]:
    return [f"{city}-s{j}" for city, _lang in cities(pairs) for j in range(sources)]


def partner(city: str) -> str:
    return ("zh" if city.startswith("de") else "de") + city[2:]


def entry(source_id: str, n: int) -> Entry:
    """Item ``n`` of a source, in its city's language."""
    text = DE_TEXT if source_id.startswith("de") else ZH_TEXT
    return Entry(
        f"{source_id}-i{n}",
        text[n % len(text)],
        f"<p>{text[(n + 1) % len(text)]}</p><p>{source_id} {n}</p>",
        f"https://news.example/{source_id}/{n}",
        pub="Tue, 01 Dec 2026 08:00:00 +0000",
    )


class Farm:
    """Feeds and webhook receivers on one loopback server (see the module docstring)."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay
        self.server = LoopbackServer()
        self.url = self.server.url
        self.entries: dict[str, list[Entry]] = {}
        #: source id → (start, end) of every request for its feed (time.monotonic)
        self.intervals: dict[str, list[tuple[float, float]]] = {}
        #: every webhook POST: (city, type, marker, webhook-id)
        self.hooks: list[tuple[str, str, str, str]] = []
        self._lock = threading.Lock()

    def add_source(self, source_id: str, entries: list[Entry]) -> None:
        self.entries[source_id] = entries
        self.intervals.setdefault(source_id, [])

        def feed(_req: Request, sid: str = source_id) -> Reply:
            start = time.monotonic()
            time.sleep(self.delay)
            body = rss(list(self.entries[sid]))
            with self._lock:
                self.intervals[sid].append((start, time.monotonic()))
            return Reply(200, body, {"Content-Type": "application/rss+xml"})

        self.server.routes[f"/feed/{source_id}.xml"] = feed

    def add_hook(self, city: str) -> None:
        def hook(req: Request, c: str = city) -> Reply:
            doc = json.loads(req.body)
            with self._lock:
                self.hooks.append((c, doc["type"], doc["data"]["marker"], doc["data"]["id"]))
            return Reply(200, b"{}", {"Content-Type": "application/json"})

        self.server.routes[f"/hook/{city}"] = hook

    def __enter__(self) -> Farm:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    # -- what happened

    def polls(self) -> int:
        with self._lock:
            return sum(len(v) for v in self.intervals.values())

    def overlaps(self) -> dict[str, int]:
        """Sources with requests that overlapped in time, and how many times."""
        out: dict[str, int] = {}
        with self._lock:
            for sid, spans in self.intervals.items():
                ordered = sorted(spans)
                n = sum(1 for a, b in zip(ordered, ordered[1:], strict=False) if b[0] < a[1])
                if n:
                    out[sid] = n
        return out

    def created(self) -> Counter[tuple[str, str]]:
        """(city, marker) → how many ``created`` POSTs it received."""
        with self._lock:
            return Counter((c, m) for c, t, m, _i in self.hooks if t == "syncd.draft.created")


def write_config(
    folder: Path,
    farm: Farm,
    store_url: str,
    *,
    pairs: int,
    sources: int,
    lease: str = "2m",
    interval: str = "10m",
    workers: int = 4,
) -> Path:
    """The config of ``pairs`` city pairs on ``farm``; registers their feeds and hooks
    (empty feeds: fill ``farm.entries``)."""
    lines = [
        "[http]", "allow_private = true", 'host_delay = "0s"', 'timeout = "10s"',
        "respect_robots = false",
        "[storage]", f"url = {json.dumps(store_url)}", f'lease = "{lease}"',
        "[models]", 'dir = "models"', "beam_size = 1",
        "[sync]", 'first_run_max_age = "3650d"', "first_run_max_items = 1000",
        'retry_base = "1s"', f"workers = {workers}",
        "[log]", 'level = "info"',
    ]  # fmt: skip
    for city, lang in cities(pairs):
        farm.add_hook(city)
        tz = "Europe/Berlin" if lang == "de" else "Asia/Shanghai"
        lines += [
            "[[cities]]",
            f'id = "{city}"',
            f'name = "{city}"',
            f'language = "{lang}"',
            f'timezone = "{tz}"',
            f'target = {{ kind = "webhook", url = "{farm.url}/hook/{city}", '
            f'secret = {{ env = "{HOOK_ENV}" }} }}',
        ]
        for j in range(sources):
            sid = f"{city}-s{j}"
            farm.add_source(sid, [])
            lines += [
                "[[cities.sources]]",
                f'id = "{sid}"',
                'kind = "feed"',
                f'url = "{farm.url}/feed/{sid}.xml"',
                f'interval = "{interval}"',
                "jitter = 0.0",
            ]
    for i in range(pairs):
        lines += ["[[partnerships]]", f'cities = ["de{i}", "zh{i}"]']
    path = folder / "syncd.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Replica:
    """One ``syncd run`` process on ``config``; its log goes to ``log``."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._offset = 0
        self.starts = 0

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in wait()
        self._offset = self._log.tell()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syncd.cli", "--config", str(self.config), "run"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", HOOK_ENV: HOOK_SECRET},
        )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: the process dies where it is, leases and all."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.wait()

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait; the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self.wait()
        return code

    def wait(self) -> None:
        if self.proc is not None:
            self.proc.wait(30)
        if self._log is not None:
            self._log.close()
            self._log = None

    def ready(self) -> bool:
        """Its latest start got as far as the daemon's "started" (signals handled)."""
        with open(self.log_path, "rb") as f:
            f.seek(self._offset)
            return b"syncd.daemon started" in f.read()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
