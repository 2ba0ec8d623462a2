"""Benchmark: what the lookup before every first create costs against a real WordPress.

    .venv/bin/python bench/wordpress_lookup.py               # ~1-2 minutes
    .venv/bin/python bench/wordpress_lookup.py --drafts 20   # a quick look

Promise 9 (lost state never duplicates) makes the WordPress target look for a draft's
marker (``GET /wp/v2/posts?syncd_source=<marker>`` through the syncd-bridge plugin)
before each first create. This measures, with syncd's own ``WordPressTarget`` against
the suite's WordPress (scripts/wordpress/wp-test-server, started if it is not running;
all its posts are deleted first):

  find     the lookup that finds nothing (what every first create now pays)
  create   the create itself (POST, the post's meta, no image)

at two sizes of the site: empty, and after ``--posts`` syncd drafts exist (the lookup
is a meta query; it must not grow with the site). Printed: median and p90 in ms, and
the lookup's share of a first create.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ms(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s) * 1000, s[int(0.9 * (len(s) - 1))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--drafts", type=int, default=40, help="creates measured per size")
    ap.add_argument("--posts", type=int, default=300, help="drafts on the site, 2nd size")
    args = ap.parse_args()

    from syncd.config import Duration, Secret
    from syncd.targets.wordpress import make
    from tests.support.wordpress import ensure_wordpress
    from tests.targets.factory import city, draft

    wp = ensure_wordpress()
    wp.reset()
    creds = wp.credentials("bot")
    os.environ["SYNCD_BENCH_WP_PASSWORD"] = creds.password
    from syncd.targets.wordpress import Options

    opts = Options(
        url=wp.url,
        user=creds.user,
        password=Secret(env="SYNCD_BENCH_WP_PASSWORD"),
        timeout=Duration(seconds=30),
        upload_images=False,
    )
    target = make(city("wordpress", opts), None, lambda: datetime.now(UTC))
    made = 0

    def round_(label: str) -> tuple[list[float], list[float]]:
        nonlocal made
        finds, creates = [], []
        for _ in range(args.drafts):
            d = draft(marker=f"{made:016x}")
            made += 1
            t = time.perf_counter()
            assert target.find(d) is None
            t1 = time.perf_counter()
            target.create(d)
            t2 = time.perf_counter()
            finds.append(t1 - t)
            creates.append(t2 - t1)
        f, c = ms(finds), ms(creates)
        share = statistics.median(finds) / (statistics.median(finds) + statistics.median(creates))
        print(
            f"{label:>18}: find {f[0]:6.1f} ms (p90 {f[1]:6.1f})   create {c[0]:6.1f} ms "
            f"(p90 {c[1]:6.1f})   lookup = {share:.0%} of a first create",
            flush=True,
        )
        return finds, creates

    try:
        for _ in range(3):  # warm up PHP's opcache and the connection
            d = draft(marker=f"{made:016x}")
            made += 1
            target.find(d)
            target.create(d)
        round_(f"{made} posts")
        while made < args.posts:
            target.create(draft(marker=f"{made:016x}"))
            made += 1
        round_(f"{made} posts")
    finally:
        target.close()
        wp.reset()
        wp.close()


if __name__ == "__main__":
    main()
