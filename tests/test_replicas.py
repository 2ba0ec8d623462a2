"""Chaos on PostgreSQL: three ``syncd run`` replicas, SIGKILLed at random and restarted.

Promise 10 (coordination by row leases) and promises 1-2 under it: while replicas die
mid-pass and come back, no source is ever polled by two at once (the feed server
records each request's start and end), every item reaches its partner's target, and
a ``created`` webhook is sent again only where a replica died mid-create (the
reconcile's re-send, with the same webhook-id); nothing is left behind in the store.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncd.models import marker_for
from tests.support.cli import install_models
from tests.support.replicas import Farm, Replica, entry, partner, source_ids, write_config

PAIRS, SOURCES, ITEMS = 3, 2, 4  # 12 sources, 48 items, 48 drafts


@pytest.mark.slow
@pytest.mark.postgres
def test_three_replicas_killed_at_random_lose_nothing_and_never_overlap(
    tmp_path: Path, postgres_url: str, argos_package_dir: Path
) -> None:
    from tests.support.postgres import scratch_schema

    rng = random.Random(13)
    with scratch_schema(postgres_url) as url, Farm(delay=0.05) as farm:
        # a short lease: a killed replica's work is taken over within seconds
        config = write_config(
            tmp_path, farm, url, pairs=PAIRS, sources=SOURCES, lease="3s", interval="10s"
        )
        install_models(config, argos_package_dir)
        sids = source_ids(PAIRS, SOURCES)
        for sid in sids:  # half the items now, the rest while replicas die
            farm.entries[sid] = [entry(sid, n) for n in range(ITEMS // 2)]
        replicas = [Replica(config, tmp_path / f"replica-{i}.log") for i in range(3)]
        for r in replicas:
            r.start()
        kills = 0
        try:
            started = time.monotonic()
            while time.monotonic() - started < 30:
                time.sleep(rng.uniform(1.0, 3.0))
                if time.monotonic() - started > 8:
                    for sid in sids:
                        farm.entries[sid] = [entry(sid, n) for n in range(ITEMS)]
                victim = rng.choice(replicas)
                victim.kill()
                kills += 1
                time.sleep(rng.uniform(0.1, 1.0))
                victim.start()
            expected = {
                (partner(sid.split("-")[0]), marker_for(sid, f"{sid}-i{n}", partner(sid.split("-")[0])))
                for sid in sids
                for n in range(ITEMS)
            }  # fmt: skip
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and (
                set(farm.created()) != expected or not all(r.ready() for r in replicas)
            ):
                time.sleep(0.5)
        finally:
            codes = [r.stop() for r in replicas]
        logs = "\n".join(r.log_path.read_text(errors="replace")[-3000:] for r in replicas)
        created = farm.created()
        assert set(created) == expected, f"missing: {sorted(expected - set(created))[:5]}\n{logs}"
        assert farm.overlaps() == {}, "a source was polled by two replicas at once"
        resent = sum(n - 1 for n in created.values())
        assert resent <= kills, f"{resent} re-sent creates for {kills} kills"
        assert codes == [0, 0, 0], logs
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                states = {
                    state: n
                    for state, n in conn.execute(
                        sa.text("SELECT state, count(*) FROM deliveries GROUP BY state")
                    )
                }
                held = conn.execute(
                    sa.text("SELECT count(*) FROM sources WHERE lease_holder IS NOT NULL")
                ).scalar_one()
        finally:
            engine.dispose()
        assert states == {"pushed": len(expected)}
        assert held == 0, "the replicas stopped cleanly: no lease is left"
        assert kills >= 8
