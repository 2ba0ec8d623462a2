"""Benchmark: the editors' desk on the daemon's web front door.

    .venv/bin/python bench/desk.py                 # about a minute on 2 cores
    .venv/bin/python bench/desk.py --drafts 1000   # quick look

Measured:

  queue   GET /desk/queue for a city with ``--drafts`` held drafts (every one
          translated, three in ten flagged): the first page, a page in the middle, the
          last page, and filtered by status, source, flag and date
  draft   GET /desk/draft/<id> of an item of 40 sentences (aligned rows, flags, the
          preview as delivered)
  memory  the daemon's resident memory after start and a few requests, in a fresh
          process each, without and with ``[web] listen`` (the front door, the desk
          and its templates): the difference is what the front door costs

For each page: the server's time per request (from the request reaching the ASGI
application to its last byte sent: Starlette, the store, Jinja2; measured by a
wrapper around the front door's application) and the time the client sees over
loopback (uvicorn and HTTP on top). The goal is under 100 ms of server time per page
and under 40 MB for the front door. ``--store DIR`` keeps (and reuses) the filled
store, which takes a minute or two to make.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PASSWORD = "bench password 123"


def current_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def config(folder: Path, listen: str) -> Any:
    from syncd.config import parse
    from syncd.kinds import TABLE

    data: dict[str, Any] = {
        "storage": {"url": f"sqlite:///{folder}/state.db"},
        "cities": [
            {"id": "dueren", "name": "Düren", "language": "de", "timezone": "Europe/Berlin",
             "sources": [{"id": "dueren-news", "kind": "feed", "interval": "1d",
                          "url": "https://www.dueren.example/news.xml"}],
             "target": {"kind": "outbox", "path": "drafts/dueren"}},
            {"id": "jinhua", "name": "金华", "language": "zh", "timezone": "Asia/Shanghai",
             "review": "desk", "sources": [],
             "target": {"kind": "outbox", "path": "drafts/jinhua"}},
        ],
        "partnerships": [{"cities": ["dueren", "jinhua"]}],
    }  # fmt: skip
    if listen:
        data["web"] = {"listen": listen}
    return parse(data, folder / "syncd.toml", kinds=TABLE)


def sentences(n: int, seed: int) -> list[str]:
    return [f"Satz {i} der Meldung {seed}: Düren hat {90000 + i} Einwohner." for i in range(n)]


def fill(folder: Path, drafts: int) -> int:
    """A store with ``drafts`` held drafts for Jinhua and one of 40 sentences; its id."""
    from syncd.intents import HoldForReview, NewDelivery, NewItem, PollIntent, SourcePolled
    from syncd.models import Item, QualityFlag, Segment, Translation
    from syncd.passwords import hash_password
    from syncd.store import Store

    store = Store(f"sqlite:///{folder}/state.db")
    try:
        items = []
        for n in range(drafts):
            count = 40 if n == drafts - 1 else 4
            body = "".join(f"<p>{s}</p>" for s in sentences(count, n))
            items.append(
                Item("dueren-news", f"k{n}", f"https://www.dueren.example/{n}", f"Meldung {n}",
                     "Kurz.", body, NOW - timedelta(minutes=drafts - n))
            )  # fmt: skip
        intent = PollIntent(
            SourcePolled("dueren-news", "dueren", NOW, "ok", NOW, 0, ok=True, activate=True),
            tuple(NewItem(i, i.content_hash(), (NewDelivery("jinhua"),)) for i in items),
        )
        store.apply_poll(intent)
        rows = {it.key: it for _d, it in store.deliveries()}
        with store.engine.begin():
            pass
        for n, item in enumerate(items):
            row = rows[item.key]
            src = sentences(40 if n == drafts - 1 else 4, n)
            segs = tuple(
                Segment("body", i, i, s, f"[zh] {s}", f"[en] {s}", f"[zh] {s}")
                for i, s in enumerate(src)
            )
            flags = (QualityFlag("numbers", 1, "90001", "body"),) if n % 10 < 3 else ()
            t = Translation(
                "zh", f"[zh] {item.title}", "[zh] Kurz.",
                "".join(f"<p>[zh] {s}</p>" for s in src), {"title": "", "summary": "",
                "body_html": ""}, flags, ("bench@1",), segs,
            )  # fmt: skip
            store.save_translation(row.id, 1, t, NOW)
            store.apply_delivery(HoldForReview(row.id, "jinhua", 1), NOW)
        store.add_editor("li", "jinhua", "zh", None, hash_password(PASSWORD), NOW)
        return rows[items[-1].key].id
    finally:
        store.close()


class _NoModels:
    """A translator for the daemon's start (it asks which models are missing)."""

    def missing(self, source_language: str, target_language: str) -> list[str]:
        return []

    def translate(self, requests: Any) -> list[Any]:
        raise AssertionError("the benchmark translates nothing")

    def close(self) -> None:
        pass


def login(base: str) -> Any:
    import re

    import httpx

    c = httpx.Client(base_url=base, trust_env=False, timeout=60)
    form = c.get("/desk/login")
    token = re.search(r'name="token" value="([^"]+)"', form.text)
    assert token
    r = c.post("/desk/login", data={"name": "li", "password": PASSWORD, "token": token.group(1)})
    assert r.status_code == 303, r.status_code
    return c


class ServerTime:
    """ASGI wrapper: how long the application took for each HTTP request, in ms."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.times.append((time.perf_counter() - t0) * 1000)


def _stats(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return round(statistics.median(times), 1), round(times[max(0, int(len(times) * 0.95) - 1)], 1)


def timed(client: Any, server: ServerTime, path: str, repeat: int) -> dict[str, float]:
    seen = []
    server.times.clear()
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(path)
        seen.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    s_med, s_p95 = _stats(server.times)
    c_med, c_p95 = _stats(seen)
    return {"server_median_ms": s_med, "server_p95_ms": s_p95,
            "client_median_ms": c_med, "client_p95_ms": c_p95}  # fmt: skip


def child_memory(folder: str, web: bool) -> None:
    """In a fresh process: start the daemon (with or without the front door), serve a
    few desk requests when it has one, print the resident memory."""
    from syncd.app import make_app
    from syncd.daemon import Daemon
    from syncd.web import WebServer

    cfg = config(Path(folder), "127.0.0.1:0" if web else "")
    app = make_app(cfg, translator=_NoModels(), clock=lambda: NOW)
    daemon = Daemon(app)
    daemon.start()
    try:
        if web:
            (server,) = [s for s in daemon._servers if isinstance(s, WebServer)]
            c = login(f"http://127.0.0.1:{server.port}")
            for path in ("/desk/queue", "/desk/queue?page=3", "/desk/queue?status=new"):
                assert c.get(path).status_code == 200
            c.close()
        print(json.dumps({"rss_mb": round(current_rss_mb(), 1)}))
    finally:
        daemon.stop()
        app.close()


def memory(folder: Path) -> dict[str, float]:
    out = {}
    for web in (False, True):
        runs = []
        for _ in range(3):
            r = subprocess.run(
                [sys.executable, __file__, "--child-memory", str(folder)]
                + (["--web"] if web else []),
                capture_output=True, text=True, check=True, timeout=300,
            )  # fmt: skip
            runs.append(json.loads(r.stdout.strip().splitlines()[-1])["rss_mb"])
        out["with_web" if web else "without_web"] = statistics.median(runs)
    out["front_door_mb"] = round(out["with_web"] - out["without_web"], 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--drafts", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None, help="Write the figures here too.")
    ap.add_argument("--store", type=Path, default=None, help="Keep the filled store here.")
    ap.add_argument("--child-memory", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--web", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_memory:
        child_memory(args.child_memory, args.web)
        return

    from syncd.app import make_app
    from syncd.web import WebContext, WebServer, make_web_app

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.store or Path(tmp)
        marker = folder / f"filled-{args.drafts}"
        if marker.exists():
            big = int(marker.read_text())
        else:
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("state.db*"):
                old.unlink()
            t0 = time.perf_counter()
            big = fill(folder, args.drafts)
            marker.write_text(str(big))
            print(f"store: {args.drafts} held drafts in {time.perf_counter() - t0:.1f} s")
        app = make_app(config(folder, ""), clock=lambda: NOW, translator=_NoModels())
        measured = ServerTime(make_web_app(WebContext(app)))
        server = WebServer(measured, "127.0.0.1:0")
        server.start()
        results: dict[str, Any] = {"drafts": args.drafts}
        try:
            c = login(f"http://127.0.0.1:{server.port}")
            last = (args.drafts + 49) // 50
            day = (NOW - timedelta(days=1)).date().isoformat()
            pages = {
                "queue, first page": "/desk/queue",
                "queue, middle page": f"/desk/queue?page={last // 2}",
                "queue, last page": f"/desk/queue?page={last}",
                "queue, status new": "/desk/queue?status=new&page=2",
                "queue, flag numbers": "/desk/queue?flag=numbers",
                "queue, source and dates": f"/desk/queue?source=dueren-news&since={day}&until={day}",
                "draft, 40 sentences": f"/desk/draft/{big}",
            }
            for name, path in pages.items():
                c.get(path)  # warm
                r = results[name] = timed(c, measured, path, args.repeat)
                print(f"{name:26} server median {r['server_median_ms']:6.1f} ms "
                      f"p95 {r['server_p95_ms']:6.1f}   client median "
                      f"{r['client_median_ms']:6.1f} ms p95 {r['client_p95_ms']:6.1f}")  # fmt: skip
            c.close()
        finally:
            server.stop()
            app.close()
        results["memory"] = memory(folder)
        m = results["memory"]
        print(f"daemon RSS without the front door {m['without_web']:.1f} MB, with it "
              f"{m['with_web']:.1f} MB: the front door costs {m['front_door_mb']:.1f} MB")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
