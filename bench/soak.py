"""Soak: the daemon for half an hour against sources and targets that fail at random,
SIGKILLed every few minutes; at the end every item must be in each target exactly once,
nothing lost, and the daemon's memory flat. Not part of the test run (issue 9).

    .venv/bin/python bench/soak.py                              # 30 minutes
    .venv/bin/python bench/soak.py --minutes 4 --kill-every 60-90   # a quick look

Everything runs on loopback, with the tiny generated Argos packages:

- Düren's feeds go to Jinhua's **webhook** target (the example receiver from
  ``integrations/webhook``, SQLite inbox on disk); Jinhua's feeds go to Düren's
  **outbox** folder.
- A feeder adds an item to a random feed every ``--new-every`` seconds and sometimes
  changes an item instead (a second version).
- Source faults, per request: 500, 429 with ``Retry-After``, slow answers (some past
  ``http.deadline``), hostile bodies in place of the feed (compression bombs, a drip,
  40,000 nested elements); one feed's server refuses connections for minutes at a time;
  hostile feeds beside them all the time (tests/support/hostile.py).
- Target faults, per POST: 500, 429 with ``Retry-After``, a slow answer past the
  target's timeout, an answer lost after the message was stored; and the receiver is
  down (connections refused) for minutes at a time.
- The daemon (``syncd run``) is SIGKILLed every ``--kill-every`` seconds and restarted
  at once; its RSS is sampled from /proc every 5 s.

Then faults stop, the daemon drains until every item is delivered in its last version
(or ``--drain`` minutes pass), and gets SIGTERM. Checked (exit 1 if any fails):

- each item is in its partner's target exactly once: one outbox draft per source key;
  one marker per key at the receiver and one fresh message id per (key, version),
  resends of the same id deduped by the receiver;
- nothing lost: every item there in its last version, nothing parked;
- no traceback and no crashed job in the daemon's log;
- memory flat: each life's RSS after its first minute grows by less than 10 %, and
  the last life ends within 10 % of the first's;
- the final SIGTERM stops the daemon within 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import hostile  # noqa: E402
from tests.support.feeds import Entry, rss  # noqa: E402
from tests.support.loopback import LoopbackServer, Reply, Request  # noqa: E402
from tests.support.webhook import WEBHOOK_SECRET, receiver  # noqa: E402

DE_FEEDS = ("de-a", "de-b", "de-flap")  # de-flap's server refuses for minutes at a time
ZH_FEEDS = ("zh-a", "zh-b")
HOSTILE = ("dates", "max-age", "nested", "bomb2", "drip")
DEADLINE = 8  # http.deadline, seconds
TARGET_TIMEOUT = 5  # the webhook target's timeout, seconds


# ----------------------------------------------------------------------------- world


@dataclass
class World:
    """The feeds' contents, the faults and what happened; shared by every thread."""

    rng: random.Random
    calm: bool = False  # no more faults (the drain)
    lock: threading.Lock = field(default_factory=threading.Lock)
    feeds: dict[str, list[Entry]] = field(default_factory=dict)
    versions: dict[tuple[str, str], int] = field(default_factory=dict)  # (feed, key) → n
    faults: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def roll(self, p: float) -> bool:
        with self.lock:
            return not self.calm and self.rng.random() < p

    def add_or_change(self, n: int) -> None:
        with self.lock:
            feed = self.rng.choice(DE_FEEDS + ZH_FEEDS)
            entries = self.feeds.setdefault(feed, [])
            once = [e for e in entries if self.versions[(feed, e.guid)] == 1]
            if once and self.rng.random() < 0.2:
                e = self.rng.choice(once)
                i = entries.index(e)
                entries[i] = Entry(e.guid, e.title, e.body + "<p>Welt.</p>", e.link)
                self.versions[(feed, e.guid)] = 2
                return
            title = "Hallo Welt." if feed.startswith("de") else "你好世界。"
            key = f"{feed}-{n}"
            link = f"https://www.{'dueren.de' if feed.startswith('de') else 'jinhua.gov.cn'}/{key}"
            entries.append(Entry(key, title, f"<p>{title}</p><p>{n}</p>", link))
            self.versions[(feed, key)] = 1

    def feed_body(self, feed: str) -> bytes:
        with self.lock:
            return rss(list(self.feeds.get(feed, [])))


def source_route(world: World, feed: str) -> Any:
    """A feed that fails at random: 500, 429, slow, or a hostile body instead."""

    def route(req: Request) -> Reply:
        if world.roll(0.06):
            world.faults["source 500"] += 1
            return Reply(500, b"oops")
        if world.roll(0.04):
            world.faults["source 429"] += 1
            return Reply(429, b"", {"Retry-After": str(world.rng.randint(5, 60))})
        if world.roll(0.04):
            world.faults["source slow"] += 1
            time.sleep(world.rng.choice([2, DEADLINE + 4]))
        if world.roll(0.04):
            case = world.rng.choice(["bomb", "bomb2", "nested", "drip"])
            world.faults[f"source hostile {case}"] += 1
            return hostile.route(case, world.stop)(req)
        return Reply(200, world.feed_body(feed), hostile.RSS)

    return route


class FlappingFeed:
    """One feed on its own port, which is closed (connections refused) for a while."""

    def __init__(self, world: World, feed: str) -> None:
        self.world, self.feed = world, feed
        probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        self.port = probe.server_address[1]
        probe.server_close()
        self.url = f"http://127.0.0.1:{self.port}/{feed}.xml"
        self.server: ThreadingHTTPServer | None = None
        self.up()

    def up(self) -> None:
        world, feed = self.world, self.feed

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                body = world.feed_body(feed)
                self.send_response(200)
                self.send_header("Content-Type", hostile.RSS["Content-Type"])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


# ---------------------------------------------------------------------------- target


@dataclass
class Posts:
    """Every verified POST the receiver answered: (message id, item key, version)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: list[tuple[str, str, int]] = field(default_factory=list)


class _Replay:
    """The request body again, for the receiver that reads it after us."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, n: int = -1) -> bytes:
        out, self.data = (self.data, b"") if n < 0 else (self.data[:n], self.data[n:])
        return out

    def close(self) -> None:
        pass


def chaos_handler(world: World, posts: Posts) -> type[Any]:
    class Chaos(receiver.Handler):  # type: ignore[misc,name-defined]
        """The example receiver, failing at random before or after it stores."""

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.rfile = _Replay(body)
            try:
                data = json.loads(body)["data"]
                self.key, self.version = str(data["item"]["key"]), int(data["version"])
            except (ValueError, KeyError, TypeError):
                self.key, self.version = "?", 0
            if world.roll(0.06):
                world.faults["target 500"] += 1
                return self._answer(500, {"error": "oops"})
            if world.roll(0.04):
                world.faults["target 429"] += 1
                self.send_response(429)
                self.send_header("Retry-After", str(world.rng.randint(2, 20)))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if world.roll(0.03):
                world.faults["target slow"] += 1
                time.sleep(TARGET_TIMEOUT + 2)
            return super().do_POST()  # type: ignore[no-any-return]

        def _answer(self, status: int, payload: Any) -> None:
            if status == 200:
                with posts.lock:
                    posts.seen.append((str(payload["id"]), self.key, self.version))
                if world.roll(0.04):  # stored, but the answer never arrives
                    world.faults["target answer lost"] += 1
                    status, payload = 503, {"error": "lost"}
            # syncd may have given up waiting (a slow answer past its timeout): it retries
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super()._answer(status, payload)

    return Chaos


class Target:
    """The example webhook receiver with its inbox on disk, down for minutes at times."""

    def __init__(self, world: World, posts: Posts, folder: Path) -> None:
        self.inbox = receiver.Inbox(str(folder / "inbox.sqlite"))
        self.handler = chaos_handler(world, posts)
        probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        self.port = probe.server_address[1]
        probe.server_close()
        self.url = f"http://127.0.0.1:{self.port}/syncd"
        self.server: Any = None
        self.up()

    def up(self) -> None:
        self.server = receiver.ReceiverServer(
            ("127.0.0.1", self.port), receiver.Verifier(WEBHOOK_SECRET), self.inbox, self.handler
        )
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


# ---------------------------------------------------------------------------- daemon


def write_config(folder: Path, sources: Any, webhook_url: str) -> Path:
    def src(sid: str, url: str) -> str:
        return f'{{ id = "{sid}", kind = "feed", url = "{url}", interval = "20s", jitter = 0.2 }}'

    de = ", ".join(src(s, u) for s, u in sources["de"])
    zh = ", ".join(src(s, u) for s, u in sources["zh"])
    text = f"""
    [http]
    allow_private = true
    host_delay = "0s"
    timeout = "5s"
    deadline = "{DEADLINE}s"
    respect_robots = false

    [storage]
    url = "sqlite:///state/syncd.db"

    [models]
    dir = "models"
    beam_size = 2

    [sync]
    first_run_max_age = "3650d"
    first_run_max_items = 10000
    retry_base = "5s"
    retry_cap = "1m"
    max_attempts = 1000
    max_poll_delay = "2m"
    workers = 6

    [[cities]]
    id = "dueren"
    name = "Düren"
    language = "de"
    timezone = "Europe/Berlin"
    names = {{ zh = "迪伦" }}
    sources = [{de}]
    target = {{ kind = "outbox", path = "drafts/dueren" }}

    [[cities]]
    id = "jinhua"
    name = "金华"
    language = "zh"
    timezone = "Asia/Shanghai"
    names = {{ de = "Jinhua" }}
    sources = [{zh}]
    target = {{ kind = "webhook", url = "{webhook_url}", secret = {{ env = "SOAK_WEBHOOK_SECRET" }}, timeout = "{TARGET_TIMEOUT}s" }}

    [[partnerships]]
    cities = ["dueren", "jinhua"]
    """
    path = folder / "syncd.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Daemon:
    """``syncd run`` as a child, restarted after every SIGKILL; RSS sampled per life."""

    def __init__(self, config: Path, log: Path, env: dict[str, str]) -> None:
        self.config, self.log, self.env = config, log, env
        self.lives: list[list[tuple[float, float]]] = []  # per life: (seconds in, MB)
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._done = threading.Event()

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "syncd.cli", "--config", str(self.config), "run"],
                stdout=fh, stderr=fh, env=self.env,
            )  # fmt: skip
        self.started = time.monotonic()
        self.lives.append([])
        if not self._sampler.is_alive():
            self._sampler.start()

    def _sample(self) -> None:
        while not self._done.wait(5):
            proc, life = self.proc, self.lives[-1]
            if proc is not None and proc.poll() is None:
                mb = rss_mb(proc.pid)
                if mb is not None:
                    life.append((time.monotonic() - self.started, mb))

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self) -> float:
        """SIGTERM; the seconds until the process was gone."""
        assert self.proc is not None
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._done.set()
        return time.monotonic() - t


# ---------------------------------------------------------------------------- checks


def outbox_by_key(folder: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for side in folder.glob("syncd-*.json"):
        doc = json.loads(side.read_text(encoding="utf-8"))
        doc["paragraphs"] = paragraphs(side.with_suffix(".html").read_text(encoding="utf-8"))
        out[doc["source_key"]].append(doc)
    return out


def paragraphs(html: str) -> int:
    """Plain ``<p>`` in a draft: 1 + the item's version here (the attribution has a class)."""
    return html.count("<p>")


def receiver_by_key(inbox: Path) -> dict[str, list[tuple[str, int]]]:
    """Per item key: (marker, paragraphs of the draft's body) at the receiver."""
    db = sqlite3.connect(inbox)
    try:
        out: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for marker, body, doc in db.execute("SELECT marker, body_html, doc FROM items"):
            key = json.loads(doc)["data"]["item"]["key"]
            out[key].append((marker, paragraphs(body)))
        return out
    finally:
        db.close()


def expected(world: World, prefix: str) -> dict[str, int]:
    """Per item key of the feeds starting with ``prefix``: paragraphs of its last version.

    Compared by content, not by syncd's version number: an item that changed before
    syncd first saw it is version 1 there."""
    with world.lock:
        return {k: 1 + v for (f, k), v in world.versions.items() if f.startswith(prefix)}


def delivered(world: World, folder: Path, inbox: Path) -> tuple[int, int]:
    """Items there in their last version: (in the outbox, at the receiver)."""
    ob, rc = outbox_by_key(folder), receiver_by_key(inbox)
    zh = expected(world, "zh")
    de = expected(world, "de")
    in_ob = sum(1 for k, p in zh.items() if any(d["paragraphs"] == p for d in ob.get(k, [])))
    in_rc = sum(1 for k, p in de.items() if any(n == p for _m, n in rc.get(k, [])))
    return in_ob, in_rc


# ------------------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", type=float, default=30, help="length of the chaos phase")
    ap.add_argument("--kill-every", default="120-240", help="seconds between SIGKILLs, a-b")
    ap.add_argument("--new-every", type=float, default=6, help="seconds between new items")
    ap.add_argument("--drain", type=float, default=10, help="minutes allowed to drain")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    args = ap.parse_args()
    kill_lo, kill_hi = (float(x) for x in args.kill_every.split("-"))

    work = Path(tempfile.mkdtemp(prefix="syncd-soak-"))
    print(f"working folder {work}", flush=True)
    world = World(random.Random(args.seed))
    posts = Posts()

    from tests.support.argosgen import standard_packages

    packages = {p.parent for p in standard_packages(work / "packages").values()}.pop()

    sources = LoopbackServer().start()
    for feed in DE_FEEDS + ZH_FEEDS:
        sources.routes[f"/{feed}.xml"] = source_route(world, feed)
    for case in HOSTILE:
        sources.routes[f"/hostile-{case}.xml"] = hostile.route(case, world.stop)
    flap = FlappingFeed(world, "de-flap")
    target = Target(world, posts, work)
    urls = {
        "de": [(f, f"{sources.url}/{f}.xml") for f in DE_FEEDS if f != "de-flap"]
        + [("de-flap", flap.url)]
        + [(f"hostile-{c}", f"{sources.url}/hostile-{c}.xml") for c in HOSTILE],
        "zh": [(f, f"{sources.url}/{f}.xml") for f in ZH_FEEDS],
    }
    config = write_config(work, urls, target.url)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SOAK_WEBHOOK_SECRET": WEBHOOK_SECRET}
    env["HOME"] = str(work / "home")  # argostranslate reads HOME and XDG_*
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        env[var] = str(work / "home" / var.lower())
    common = [sys.executable, "-m", "syncd.cli", "--config", str(config)]
    subprocess.run([*common, "models", "install", "--file", str(packages)], env=env, check=True,
                   capture_output=True)  # fmt: skip

    for n in range(20):
        world.add_or_change(n)
    log = work / "daemon.log"
    daemon = Daemon(config, log, env)
    daemon.start()

    t0 = time.monotonic()
    end = t0 + args.minutes * 60
    next_kill = t0 + world.rng.uniform(kill_lo, kill_hi)
    next_item = t0 + args.new_every
    flap_at, flap_down = t0 + 60, False
    target_at, target_down = t0 + 150, False
    kills, n = 0, 20
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_item:
            world.add_or_change(n)
            n += 1
            next_item = now + args.new_every
        if now >= next_kill:
            daemon.kill()
            kills += 1
            print(f"{(now - t0) / 60:5.1f} min  SIGKILL #{kills}", flush=True)
            daemon.start()
            next_kill = now + world.rng.uniform(kill_lo, kill_hi)
        if now >= flap_at:  # the refusing feed: down 1-3 min, up 2-5 min
            (flap.up if flap_down else flap.down)()
            flap_down = not flap_down
            world.faults["source refused (periods)"] += flap_down
            flap_at = now + 60 * (world.rng.uniform(1, 3) if flap_down else world.rng.uniform(2, 5))
        if now >= target_at:  # the receiver: down 2-4 min, up 4-8 min
            (target.up if target_down else target.down)()
            target_down = not target_down
            world.faults["target down (periods)"] += target_down
            target_at = now + 60 * (
                world.rng.uniform(2, 4) if target_down else world.rng.uniform(4, 8)
            )
        time.sleep(0.2)

    # drain: no more faults, everything up
    with world.lock:
        world.calm = True
    if flap_down:
        flap.up()
    if target_down:
        target.up()
    world.stop.set()  # dripping bodies end
    items_zh, items_de = len(expected(world, "zh")), len(expected(world, "de"))
    outbox = work / "drafts" / "dueren"
    drain_start = time.monotonic()
    print(f"chaos over after {kills} SIGKILLs; draining {items_de}+{items_zh} items", flush=True)
    while time.monotonic() - drain_start < args.drain * 60:
        in_ob, in_rc = delivered(world, outbox, work / "inbox.sqlite")
        if in_ob == items_zh and in_rc == items_de:
            break
        time.sleep(5)
    drained = time.monotonic() - drain_start
    stop_s = daemon.terminate()

    report = check(world, posts, work, outbox, daemon, log, common, env)
    report.update(
        minutes=args.minutes, kills=kills, drain_seconds=round(drained),
        stop_seconds=round(stop_s, 2), faults=dict(world.faults),
    )  # fmt: skip
    report["problems"] += [f"SIGTERM took {stop_s:.1f} s"] if stop_s > 5 else []
    print(json.dumps(report, indent=2, ensure_ascii=False))
    (work / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    sources.stop()
    flap.down()
    target.down()
    if not args.keep and not report["problems"]:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 1 if report["problems"] else 0


def check(
    world: World, posts: Posts, work: Path, outbox: Path, daemon: Daemon, log: Path,
    common: list[str], env: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    problems: list[str] = []
    zh, de = expected(world, "zh"), expected(world, "de")
    ob = outbox_by_key(outbox)
    rc = receiver_by_key(work / "inbox.sqlite")
    # exactly once
    for key in zh:
        if len(ob.get(key, [])) != 1:
            problems.append(f"outbox: {len(ob.get(key, []))} drafts for {key}")
    for key in de:
        if len({m for m, _v in rc.get(key, [])}) != 1:
            problems.append(f"receiver: {len(rc.get(key, []))} markers for {key}")
    with posts.lock:
        seen = list(posts.seen)
    ids_per_version: dict[tuple[str, int], set[str]] = defaultdict(set)
    for msg_id, key, version in seen:
        ids_per_version[(key, version)].add(msg_id)
    for (key, version), ids in ids_per_version.items():
        if len(ids) != 1:
            problems.append(f"receiver: {len(ids)} message ids for {key} v{version}")
    resends = len(seen) - len({s[0] for s in seen})
    # nothing lost, last versions
    lost_ob = [k for k, p in zh.items() if not any(d["paragraphs"] == p for d in ob.get(k, []))]
    lost_rc = [k for k, p in de.items() if not any(n == p for _m, n in rc.get(k, []))]
    problems += [f"outbox lacks {k} (last version)" for k in lost_ob[:20]]
    problems += [f"receiver lacks {k} (last version)" for k in lost_rc[:20]]
    status = json.loads(
        subprocess.run([*common, "status", "--json"], env=env, capture_output=True).stdout
    )
    parked = status["parked"]
    problems += [f"parked: {p['item']} → {p['target']}: {p['reason']}" for p in parked[:20]]
    leftovers = list(outbox.glob(".*.tmp"))
    # the daemon's log
    text = log.read_text(errors="replace")
    tracebacks = text.count("Traceback")
    crashed = text.count("job-crashed") + text.count("source-crashed")
    if tracebacks or crashed:
        problems.append(f"log: {tracebacks} tracebacks, {crashed} crashed jobs")
    # memory
    lives = [life for life in daemon.lives if life]
    per_life = []
    for life in lives:
        warm = [mb for t, mb in life if t >= 60] or [life[-1][1]]
        per_life.append(
            (round(warm[0], 1), round(warm[-1], 1), round(max(mb for _t, mb in life), 1))
        )
    for i, (first, last, _peak) in enumerate(per_life):
        if last > first * 1.10 and len([t for t, _ in lives[i] if t >= 60]) > 24:
            problems.append(f"life {i}: RSS {first} → {last} MB")
    if len(per_life) > 1 and per_life[-1][1] > per_life[0][1] * 1.10:
        problems.append(f"RSS first life {per_life[0][1]} MB, last {per_life[-1][1]} MB")
    all_mb = [mb for life in lives for _t, mb in life]
    return {
        "items": {"dueren→jinhua (webhook)": len(de), "jinhua→dueren (outbox)": len(zh),
                  "changed": sum(p == 3 for p in {**de, **zh}.values())},
        "receiver": {"verified posts": len(seen), "resends deduped": resends,
                     "items": len(rc)},
        "outbox": {"drafts": sum(len(v) for v in ob.values()), "temp files left": len(leftovers)},
        "parked": len(parked),
        "log": {"tracebacks": tracebacks, "crashed jobs": crashed,
                "poll failures": text.count("poll-failed")},
        "rss_mb": {"lives (after 1 min: first, last, peak)": per_life,
                   "median": round(statistics.median(all_mb), 1) if all_mb else None,
                   "max": round(max(all_mb), 1) if all_mb else None},
        "problems": problems,
    }  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
