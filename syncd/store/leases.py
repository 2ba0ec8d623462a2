"""Store domain: row leases, so that several replicas share one PostgreSQL state.

A lease is two columns of the row it guards, ``lease_holder`` and ``lease_until``:

- ``sources``: a source is polled by one replica at a time (``claim_sources`` takes
  due ones for the daemon, ``take_source`` one for a pass, ``release_source`` ends it);
- ``deliveries``: a delivery is carried by one replica at a time, and the deliveries a
  replica claimed together are the batch it translates (``claim_deliveries``): so a
  translation batch is claimed with them, the same way.

Claims select their candidates ``FOR UPDATE SKIP LOCKED`` (rows another replica is
claiming at this instant are skipped, never waited for) and stamp them in the same
transaction. Who may take a lease is ``decide.lease_claim``'s ``LeaseClaim``: free,
ours, or ended before ``free_before``. A living holder renews its leases
(``renew_leases``); a dead one stops, and its leases end and are taken by the next
claim, so a replica that dies mid-pass loses nothing. Writing the step before an
irreversible remote call is fenced by the lease (``apply_delivery(…, holder=)``).

SQLite ignores ``FOR UPDATE``: a SQLite state has one owner process (the owner lock),
whose claims say every lease is free (``LeasePolicy(shared=False)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..intents import LeaseClaim
from ..models import DeliveryRow, ItemRow
from .base import chunks, insert_or, wrap_exceptions
from .deliveries import open_query
from .schema import deliveries_t, items_t, sources_t


def _claimable(table: sa.Table, claim: LeaseClaim) -> Any:
    return sa.or_(
        table.c.lease_holder.is_(None),
        table.c.lease_holder == claim.holder,
        table.c.lease_until < claim.free_before,
    )


def _stamp(claim: LeaseClaim) -> dict[str, Any]:
    return dict(lease_holder=claim.holder, lease_until=claim.until)


_FREE: dict[str, Any] = dict(lease_holder=None, lease_until=None)


class LeasesMixin:
    engine: Engine
    _with_items: Callable[[Any], list[tuple[DeliveryRow, ItemRow]]]  # DeliveriesMixin

    @wrap_exceptions("registering sources")
    def ensure_sources(self, sources: Sequence[tuple[str, str]]) -> None:
        """A row for each ``(source_id, city_id)`` (so that it can be claimed)."""
        rows = [dict(id=s, city_id=c, consecutive_failures=0, items_seen=0) for s, c in sources]
        with self.engine.begin() as conn:
            for chunk in chunks(rows):
                insert_or(conn, sources_t, chunk, keys=["id"])

    @wrap_exceptions("claiming due sources")
    def claim_sources(self, claim: LeaseClaim, source_ids: Sequence[str], limit: int) -> list[str]:
        """Lease up to ``limit`` of ``source_ids`` that are due (``next_poll_at`` passed
        or never polled) and free to take, longest waiting first."""
        if limit <= 0 or not source_ids:
            return []
        c = sources_t.c
        with self.engine.begin() as conn:
            ids = list(
                conn.execute(
                    sa.select(c.id)
                    .where(c.id.in_(list(source_ids)))
                    .where(sa.or_(c.next_poll_at.is_(None), c.next_poll_at <= claim.now))
                    .where(_claimable(sources_t, claim))
                    .order_by(sa.nulls_first(c.next_poll_at.asc()), c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if ids:
                conn.execute(
                    sources_t.update()
                    .where(c.id.in_(ids), _claimable(sources_t, claim))
                    .values(**_stamp(claim))
                )
        return ids

    @wrap_exceptions("taking a source's lease")
    def take_source(self, claim: LeaseClaim, source_id: str, city_id: str) -> bool:
        """Lease one source now, due or not; False when another replica holds it."""
        with self.engine.begin() as conn:
            insert_or(
                conn,
                sources_t,
                dict(id=source_id, city_id=city_id, consecutive_failures=0, items_seen=0),
                keys=["id"],
            )
            n = conn.execute(
                sources_t.update()
                .where(sources_t.c.id == source_id, _claimable(sources_t, claim))
                .values(**_stamp(claim))
            ).rowcount
        return bool(n == 1)

    @wrap_exceptions("releasing a source's lease")
    def release_source(self, holder: str, source_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sources_t.update()
                .where(sources_t.c.id == source_id, sources_t.c.lease_holder == holder)
                .values(**_FREE)
            )

    @wrap_exceptions("claiming deliveries")
    def claim_deliveries(
        self,
        claim: LeaseClaim,
        *,
        source_ids: Sequence[str] | None = None,
        after: tuple[int, str] | None = None,
        limit: int = 200,
    ) -> list[tuple[DeliveryRow, ItemRow]]:
        """Lease up to ``limit`` open deliveries (of ``source_ids``, or all) free to take,
        in (item, target) order after ``after``; returns them with their items."""
        d = deliveries_t.c
        q = open_query(sa.select(d.item_id, d.target_city)).where(_claimable(deliveries_t, claim))
        if source_ids is not None:
            q = q.where(items_t.c.source_id.in_(list(source_ids)))
        if after is not None:
            q = q.where(sa.tuple_(d.item_id, d.target_city) > sa.tuple_(*after))
        q = (
            q.order_by(d.item_id, d.target_city)
            .limit(limit)
            .with_for_update(skip_locked=True, of=deliveries_t)
        )
        with self.engine.begin() as conn:
            keys = [tuple(r) for r in conn.execute(q)]
            if not keys:
                return []
            conn.execute(
                deliveries_t.update()
                .where(sa.tuple_(d.item_id, d.target_city).in_(keys))
                .where(_claimable(deliveries_t, claim))
                .values(**_stamp(claim))
            )
        mine = (
            sa.select(deliveries_t)
            .where(d.lease_holder == claim.holder)
            .where(sa.tuple_(d.item_id, d.target_city).in_(keys))
            .order_by(d.item_id, d.target_city)
        )
        return self._with_items(mine)

    @wrap_exceptions("releasing deliveries")
    def release_deliveries(self, holder: str, keys: Sequence[tuple[int, str]]) -> None:
        d = deliveries_t.c
        with self.engine.begin() as conn:
            for chunk in chunks(list(keys)):
                conn.execute(
                    deliveries_t.update()
                    .where(d.lease_holder == holder)
                    .where(sa.tuple_(d.item_id, d.target_city).in_(chunk))
                    .values(**_FREE)
                )

    @wrap_exceptions("renewing leases")
    def renew_leases(self, claim: LeaseClaim) -> int:
        """Extend every lease ``claim.holder`` holds to ``claim.until``; how many."""
        n = 0
        with self.engine.begin() as conn:
            for t in (sources_t, deliveries_t):
                n += conn.execute(
                    t.update()
                    .where(t.c.lease_holder == claim.holder)
                    .values(lease_until=claim.until)
                ).rowcount
        return n

    @wrap_exceptions("releasing leases")
    def release_all(self, holder: str) -> None:
        """End every lease of ``holder`` (a clean stop: others need not wait)."""
        with self.engine.begin() as conn:
            for t in (sources_t, deliveries_t):
                conn.execute(t.update().where(t.c.lease_holder == holder).values(**_FREE))

    @wrap_exceptions("reading leases")
    def leases(self) -> dict[str, int]:
        """How many rows each holder leases now (for ``syncd status``)."""
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for t in (sources_t, deliveries_t):
                for holder, n in conn.execute(
                    sa.select(t.c.lease_holder, sa.func.count())
                    .where(t.c.lease_holder.is_not(None))
                    .group_by(t.c.lease_holder)
                ):
                    out[holder] = out.get(holder, 0) + n
        return out
