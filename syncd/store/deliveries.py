"""Store domain: deliveries (one item at one partner target) and their steps."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import LeaseLost, StoreError
from ..intents import (
    DeliveryIntent,
    HandOff,
    HoldForReview,
    MarkCreating,
    NoteReviewed,
    Park,
    RecordFailure,
    RecordWritten,
    ReviewApproved,
    ReviewRejected,
    ReviewReopened,
    WaitForModels,
    WaitForTarget,
)
from ..models import DeliveryRow, DeliveryState, ItemRow, TargetQueue
from .base import chunks, wrap_exceptions
from .items import item_row
from .schema import deliveries_t, items_t


def delivery_row(row: Any) -> DeliveryRow:
    m = row._mapping
    kwargs = {f.name: m[f.name] for f in fields(DeliveryRow)}
    kwargs["state"] = DeliveryState(kwargs["state"])
    return DeliveryRow(**kwargs)


def _values(intent: DeliveryIntent) -> dict[str, Any]:
    """The columns one delivery intent sets: the only place that knows them."""
    match intent:
        case MarkCreating(version=version):
            return dict(state=DeliveryState.CREATING.value, written_version=version)
        case RecordWritten():
            return dict(
                state=DeliveryState.PUSHED.value,
                written_version=intent.version,
                remote_id=intent.remote_id,
                remote_url=intent.remote_url,
                fingerprint=intent.fingerprint,
                written_hash=intent.written_hash,
                attempts=0,
                next_attempt_at=None,
                last_error=None,
            )
        case HandOff():
            return dict(
                state=intent.state.value,
                changed_after_review=intent.changed_after_review,
                note=intent.note,
            )
        case NoteReviewed():
            return dict(changed_after_review=True, note=intent.note)
        case RecordFailure():
            return dict(
                attempts=intent.attempts,
                last_error=intent.error,
                next_attempt_at=intent.next_attempt_at,
            )
        case Park():
            return dict(
                state=DeliveryState.PARKED.value,
                parked_state=intent.resume_state.value,
                attempts=intent.attempts,
                last_error=intent.error,
                next_attempt_at=None,
            )
        case WaitForModels() | WaitForTarget():
            return dict(last_error=intent.reason)
        case HoldForReview():
            return dict(
                state=DeliveryState.HELD.value,
                review_version=intent.version,
                attempts=0,
                next_attempt_at=None,
                last_error=None,
                changed_after_review=False,
            )
        case ReviewApproved():
            return dict(
                state=DeliveryState.APPROVED.value,
                review_version=intent.version,
                attempts=0,
                next_attempt_at=None,
                last_error=None,
                note=f"approved in the desk by {intent.editor} (version {intent.version})",
            )
        case ReviewRejected():
            return dict(
                state=DeliveryState.REJECTED.value,
                review_version=intent.version,
                changed_after_review=False,
                note=f"rejected in the desk by {intent.editor}: {intent.reason}",
            )
        case ReviewReopened():
            # review_version None: the next pass translates and holds it again
            return dict(
                state=DeliveryState.HELD.value,
                review_version=None,
                changed_after_review=False,
                attempts=0,
                next_attempt_at=None,
                last_error=None,
            )
    raise TypeError(f"not a delivery intent: {intent!r}")


def open_query(q: Any) -> Any:
    """``q`` over deliveries joined with their items, narrowed to the open ones: not
    skipped or parked; pending, creating or approved in the desk; held in the desk
    while the source changed since; written (or decided in the desk) while the source
    changed since; never one already noted "changed after review"."""
    j = deliveries_t.join(items_t, items_t.c.id == deliveries_t.c.item_id)
    closed = [DeliveryState.SKIPPED.value, DeliveryState.PARKED.value]
    state = deliveries_t.c.state
    current = items_t.c.current_version
    return (
        q.select_from(j)
        .where(state.not_in(closed))
        .where(
            sa.or_(
                state.in_(
                    [
                        DeliveryState.PENDING.value,
                        DeliveryState.CREATING.value,
                        DeliveryState.APPROVED.value,
                    ]
                ),
                sa.and_(
                    state == DeliveryState.HELD.value,
                    sa.func.coalesce(deliveries_t.c.review_version, 0) < current,
                ),
                sa.and_(
                    state != DeliveryState.HELD.value,
                    sa.func.coalesce(
                        deliveries_t.c.written_version, deliveries_t.c.review_version, 0
                    )
                    < current,
                ),
            )
        )
        .where(deliveries_t.c.changed_after_review.is_(False))
    )


def update_delivery(
    conn: Connection, intent: DeliveryIntent, now: datetime, *, holder: str | None = None
) -> None:
    """Apply one delivery intent on ``conn`` (inside the caller's transaction). With
    ``holder``, only while ``holder`` still holds the delivery's lease (``LeaseLost``)."""
    key = (
        deliveries_t.c.item_id == intent.item_id,
        deliveries_t.c.target_city == intent.target_city,
    )
    q = deliveries_t.update().where(*key)
    if holder is not None:
        q = q.where(deliveries_t.c.lease_holder == holder)
    n = conn.execute(q.values(updated_at=now, **_values(intent))).rowcount
    if n != 1 and holder is not None:
        exists = conn.execute(sa.select(deliveries_t.c.item_id).where(*key)).first()
        if exists is not None:
            raise LeaseLost(
                f"item {intent.item_id} → {intent.target_city}: another replica "
                "carries this delivery now"
            )
    if n != 1:
        raise StoreError(f"no delivery for item {intent.item_id} → {intent.target_city}")


class DeliveriesMixin:
    engine: Engine

    @wrap_exceptions("reading a delivery")
    def delivery(self, item_id: int, target_city: str) -> DeliveryRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(deliveries_t).where(
                    deliveries_t.c.item_id == item_id, deliveries_t.c.target_city == target_city
                )
            ).first()
            return None if r is None else delivery_row(r)

    @wrap_exceptions("listing open deliveries")
    def open_deliveries(self, source_id: str | None = None) -> list[tuple[DeliveryRow, ItemRow]]:
        """Deliveries that may need work: not skipped/parked, plus hands-off ones whose
        item has a version newer than what syncd wrote (to record "changed after review")."""
        q = open_query(sa.select(deliveries_t, items_t.c.source_id))
        if source_id is not None:
            q = q.where(items_t.c.source_id == source_id)
        return self._with_items(q.order_by(deliveries_t.c.item_id, deliveries_t.c.target_city))

    def _with_items(self, q: Any) -> list[tuple[DeliveryRow, ItemRow]]:
        """Run a deliveries query and pair each row with its item (one query per 500
        items, not one per row)."""
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            items: dict[int, ItemRow] = {}
            for chunk in chunks(sorted({r.item_id for r in rows})):
                for r in conn.execute(sa.select(items_t).where(items_t.c.id.in_(chunk))):
                    items[r.id] = item_row(r)
        return [(delivery_row(r), items[r.item_id]) for r in rows]

    @wrap_exceptions("recording a delivery step")
    def apply_delivery(
        self, intent: DeliveryIntent, now: datetime, *, holder: str | None = None
    ) -> None:
        """Apply one delivery intent in one transaction.

        With ``holder``, only while ``holder`` still holds the delivery's lease: else
        ``LeaseLost`` and nothing is written (the write-ahead before a remote create is
        fenced so: a replica whose lease ended never creates what another now carries).
        """
        with self.engine.begin() as conn:
            update_delivery(conn, intent, now, holder=holder)

    @wrap_exceptions("listing deliveries")
    def deliveries(self, state: DeliveryState | None = None) -> list[tuple[DeliveryRow, ItemRow]]:
        q = sa.select(deliveries_t)
        if state is not None:
            q = q.where(deliveries_t.c.state == state.value)
        return self._with_items(q.order_by(deliveries_t.c.item_id, deliveries_t.c.target_city))

    @wrap_exceptions("counting deliveries")
    def delivery_counts(self) -> dict[str, dict[str, int]]:
        q = sa.select(deliveries_t.c.target_city, deliveries_t.c.state, sa.func.count()).group_by(
            deliveries_t.c.target_city, deliveries_t.c.state
        )
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for city, state, n in conn.execute(q):
                out.setdefault(city, {})[state] = n
        return out

    @wrap_exceptions("listing sources updated after review")
    def changed_after_review(self) -> list[tuple[DeliveryRow, ItemRow]]:
        q = sa.select(deliveries_t).where(deliveries_t.c.changed_after_review.is_(True))
        return self._with_items(q.order_by(deliveries_t.c.item_id, deliveries_t.c.target_city))

    @wrap_exceptions("re-queueing parked deliveries")
    def retry_parked(self, now: datetime, item_id: int | None = None) -> int:
        """Re-queue parked deliveries (all, or one item's): attempts reset, due now."""
        q = deliveries_t.update().where(deliveries_t.c.state == DeliveryState.PARKED.value)
        if item_id is not None:
            q = q.where(deliveries_t.c.item_id == item_id)
        with self.engine.begin() as conn:
            res = conn.execute(
                q.values(
                    state=sa.func.coalesce(
                        deliveries_t.c.parked_state, DeliveryState.PENDING.value
                    ),
                    parked_state=None,
                    attempts=0,
                    next_attempt_at=None,
                    updated_at=now,
                )
            )
            return int(res.rowcount)

    @wrap_exceptions("re-queueing deliveries waiting in backoff")
    def retry_waiting(self, now: datetime, item_id: int | None = None) -> int:
        """Make deliveries waiting in backoff (not parked) due now (all, or one
        item's); their attempts are kept, so the retry policy still parks them."""
        waiting = [DeliveryState.PENDING.value, DeliveryState.CREATING.value,
                   DeliveryState.PUSHED.value]  # fmt: skip
        q = (
            deliveries_t.update()
            .where(deliveries_t.c.state.in_(waiting))
            .where(deliveries_t.c.next_attempt_at.is_not(None))
        )
        if item_id is not None:
            q = q.where(deliveries_t.c.item_id == item_id)
        with self.engine.begin() as conn:
            return int(conn.execute(q.values(next_attempt_at=None, updated_at=now)).rowcount)

    @wrap_exceptions("summarising the deliveries of each target")
    def target_queues(self) -> dict[str, TargetQueue]:
        """Per target city: deliveries not yet written (pending, creating), the oldest
        of them, how many wait in backoff and the next attempt time."""
        d = deliveries_t
        waiting = [DeliveryState.PENDING.value, DeliveryState.CREATING.value]
        q = (
            sa.select(
                d.c.target_city,
                sa.func.count(),
                sa.func.min(d.c.created_at),
                sa.func.count(d.c.next_attempt_at),
                sa.func.min(d.c.next_attempt_at),
            )
            .where(d.c.state.in_(waiting))
            .group_by(d.c.target_city)
        )
        out: dict[str, TargetQueue] = {}
        with self.engine.connect() as conn:
            for city, n, oldest, backoff, nxt in conn.execute(q):
                # aggregates come back as text: the column type is not applied to them
                out[city] = TargetQueue(city, n, _dt(oldest), backoff, _dt(nxt))
        return out

    @wrap_exceptions("counting deliveries by route")
    def waiting_by_route(self) -> dict[tuple[str, str], int]:
        """Pending deliveries by (source city, target city): what waits for a model."""
        j = deliveries_t.join(items_t, items_t.c.id == deliveries_t.c.item_id)
        q = (
            sa.select(items_t.c.city_id, deliveries_t.c.target_city, sa.func.count())
            .select_from(j)
            .where(deliveries_t.c.state == DeliveryState.PENDING.value)
            .group_by(items_t.c.city_id, deliveries_t.c.target_city)
        )
        with self.engine.connect() as conn:
            return {(src, dst): int(n) for src, dst, n in conn.execute(q)}


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
