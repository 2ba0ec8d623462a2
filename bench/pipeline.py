"""Benchmark: the sync pipeline's own cost, and memory over a long run.

    .venv/bin/python bench/pipeline.py              # about a minute on 2 cores
    .venv/bin/python bench/pipeline.py --passes 50  # quick look

Everything runs on loopback with the tiny generated Argos packages, so the figures
are syncd's own overhead (HTTP, parsing, sanitizing, SQLite, outbox writes), not the
translation model's (bench/translate.py measures that).

Measured in one run, one process:

  base   the floor any feed reader pays: GET the feed with httpx, feedparser.parse,
         nh3 on every entry
  poll   syncd.sync.poll on a fresh store: the same work plus recording every item,
         its first version and a delivery row per partner (one transaction)
  push   syncd.sync.deliver for those items: translate (tiny models), draft, outbox
  soak   ``--passes`` polls + deliveries in which ``--changed`` items change each
         time; peak RSS after the first tenth of the passes and at the end

Printed: times, the ratio poll/base (what recording costs on top of reading), items
per second, and RSS growth over the soak (a leak shows up here).
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--items", type=int, default=300, help="items in the feed")
    ap.add_argument("--passes", type=int, default=300, help="soak passes")
    ap.add_argument("--changed", type=int, default=5, help="items changed per soak pass")
    args = ap.parse_args()

    import feedparser
    import httpx

    from syncd import sync
    from syncd.app import make_app
    from syncd.config import load
    from syncd.kinds import TABLE
    from syncd.sanitize import clean_html
    from syncd.translate import packages as models
    from tests.support.argosgen import standard_packages
    from tests.support.configs import feed_source, write_config
    from tests.support.feeds import Entry, rss
    from tests.support.loopback import Reply, serve

    sentences = [
        "Hallo Welt.",
        "Düren ist eine Stadt in Deutschland.",
        "Der Bürgermeister besucht Jinhua.",
    ]
    version = {"n": 0}

    def entries() -> list[Entry]:
        out = []
        for i in range(args.items):
            bump = version["n"] if i < args.changed else 0
            body = "".join(f"<p>{sentences[(i + j) % 3]} {i} {bump}</p>" for j in range(6))
            out.append(Entry(f"k{i}", sentences[i % 3], body, f"https://www.dueren.de/news/{i}"))
        return out

    with tempfile.TemporaryDirectory() as tmp, serve() as server:
        work = Path(tmp)
        server.routes["/de.xml"] = lambda req: Reply(
            200, rss(entries()), {"Content-Type": "application/rss+xml"}
        )
        for pkg in standard_packages(work / "pkgs").values():
            models.install_file(work / "models", pkg)
        config = write_config(
            work,
            feed_source("de", f"{server.url}/de.xml"),
            "",
            extra=f"""
            first_run_max_items = {args.items}
            max_hash_updates = {args.passes + 10}
            [log]
            level = "error"
            """,
        )
        app = make_app(load(config, kinds=TABLE))

        # base: what any reader pays
        t0 = time.perf_counter()
        with httpx.Client() as client:
            body = client.get(f"{server.url}/de.xml").content
        parsed = feedparser.parse(io.BytesIO(body))
        for e in parsed.entries:
            clean_html(e.content[0].value)
        base = time.perf_counter() - t0

        t0 = time.perf_counter()
        result = sync.poll(app, "de")
        poll = time.perf_counter() - t0
        assert result.ok and result.new == args.items, result

        t0 = time.perf_counter()
        out = sync.deliver(app)
        push = time.perf_counter() - t0
        assert out.created == args.items, out

        warm_at = max(1, args.passes // 10)
        rss_warm = 0.0
        t0 = time.perf_counter()
        for p in range(1, args.passes + 1):
            version["n"] = p
            r = sync.poll(app, "de")
            assert r.changed == args.changed, r
            d = sync.deliver(app)
            assert d.updated == args.changed, d
            if p == warm_at:
                rss_warm = current_rss_mb()
        soak = time.perf_counter() - t0
        rss_end = current_rss_mb()
        db = (work / "state" / "syncd.db").stat().st_size / 1e6
        app.close()

    n = args.items
    print(f"items in feed            {n}")
    print(f"base  (GET+parse+nh3)    {base * 1000:8.1f} ms")
    print(f"poll  (base + record)    {poll * 1000:8.1f} ms   ratio poll/base {poll / base:5.2f}")
    print(f"push  (translate+draft)  {push * 1000:8.1f} ms   {n / push:7.0f} drafts/s")
    print(
        f"soak  {args.passes} passes × {args.changed} changed: {soak:6.1f} s, {soak / args.passes * 1000:6.1f} ms/pass"
    )
    print(
        f"RSS   after pass {warm_at}: {rss_warm:6.1f} MB, after pass {args.passes}: {rss_end:6.1f} MB "
        f"(growth {rss_end - rss_warm:+.1f} MB), peak {rss_mb():.1f} MB"
    )
    print(f"store {db:.1f} MB after {args.passes * args.changed + n} item versions")


if __name__ == "__main__":
    main()
