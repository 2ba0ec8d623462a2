"""Benchmark: many city pairs on PostgreSQL with 1, 2 and 3 replicas, and on SQLite.

200 city pairs (400 cities, de⇄zh) with one feed each: 400 loopback sources, each
answer taking ``--delay`` (20 ms), each feed with ``--items`` new items, so a full
round is: every source polled once, every item translated (the generated Argos
packages, beam 1) and pushed as a webhook to its partner city. Each run starts
``syncd run`` replicas on a fresh store and measures:

- polls/s:      sources polled / time from the first to the last feed request;
- round:        seconds from the first feed request until every draft was received;
- duplicates:   ``created`` webhooks beyond one per draft (must be 0: no replica is
                killed here, so none is ever re-sent);
- overlaps:     feeds requested by two replicas at once (must be 0).

PostgreSQL comes from scripts/postgres/pg-test-server (started if needed).

    .venv/bin/python bench/replicas.py                   # pg1 pg2 pg3 sqlite1, 200 pairs
    .venv/bin/python bench/replicas.py --pairs 20 --runs pg2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run(kind: str, replicas: int, args: argparse.Namespace, packages: Path) -> dict[str, object]:
    from contextlib import ExitStack

    from syncd.models import marker_for
    from tests.support.cli import install_models
    from tests.support.postgres import ensure_postgres, scratch_schema
    from tests.support.replicas import Farm, Replica, entry, partner, source_ids, write_config

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="syncd-replicas-")))
        farm = stack.enter_context(Farm(delay=args.delay))
        if kind == "pg":
            url = stack.enter_context(scratch_schema(ensure_postgres()))
        else:
            url = f"sqlite:///{work}/state/syncd.db"
        config = write_config(
            work, farm, url, pairs=args.pairs, sources=1, interval="1h", workers=args.workers
        )
        install_models(config, packages)
        sids = source_ids(args.pairs, 1)
        for sid in sids:
            farm.entries[sid] = [entry(sid, n) for n in range(args.items)]
        expected = len(sids) * args.items
        procs = [Replica(config, work / f"replica-{i}.log") for i in range(replicas)]
        for p in procs:
            p.start()
        deadline = time.monotonic() + args.timeout
        try:
            while time.monotonic() < deadline and len(farm.created()) < expected:
                time.sleep(0.2)
            done_at = time.monotonic()
        finally:
            for p in procs:
                p.stop()
        spans = [s for v in farm.intervals.values() for s in v]
        first = min(s[0] for s in spans)
        last_poll = max(s[0] for s in spans)
        created = farm.created()
        want = {
            (partner(sid.split("-")[0]), marker_for(sid, f"{sid}-i{n}", partner(sid.split("-")[0])))
            for sid in sids
            for n in range(args.items)
        }  # fmt: skip
        return {
            "store": kind,
            "replicas": replicas,
            "sources": len(sids),
            "drafts": len(created),
            "complete": set(created) == want,
            "polls": len(spans),
            "polls_per_s": round(len(spans) / max(last_poll - first, 1e-6), 1),
            "round_s": round(done_at - first, 1),
            "duplicates": sum(n - 1 for n in created.values()),
            "overlaps": sum(farm.overlaps().values()),
        }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pairs", type=int, default=200, help="city pairs (2 sources each)")
    ap.add_argument("--items", type=int, default=1, help="new items per feed")
    ap.add_argument("--delay", type=float, default=0.02, help="seconds per feed answer")
    ap.add_argument("--workers", type=int, default=4, help="[sync] workers per replica")
    ap.add_argument("--runs", default="pg1,pg2,pg3,sqlite1", help="store+replicas, comma list")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per run at most")
    ap.add_argument("--json", type=Path, help="write the results here too")
    args = ap.parse_args()

    from tests.support.argosgen import standard_packages

    results = []
    with tempfile.TemporaryDirectory(prefix="syncd-packages-") as tmp:
        packages = Path(tmp)
        standard_packages(packages)
        for spec in args.runs.split(","):
            kind, n = spec.rstrip("0123456789"), int(spec[len(spec.rstrip("0123456789")) :])
            r = run(kind, n, args, packages)
            results.append(r)
            print(
                f"{r['store']:<7} {r['replicas']} replica(s): {r['polls_per_s']:>6} polls/s, "
                f"round {r['round_s']:>6} s, {r['drafts']} drafts "
                f"(complete: {r['complete']}), duplicates {r['duplicates']}, "
                f"overlaps {r['overlaps']}",
                flush=True,
            )
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                machine["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(f"machine: {machine['cpu']}, {machine['cores']} cores")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine,
                    "args": vars(args) | {"json": str(args.json)},
                    "results": results,
                },
                indent=2,
            )  # fmt: skip
        )


if __name__ == "__main__":
    main()
