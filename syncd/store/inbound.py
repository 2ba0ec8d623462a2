"""Store domain: the queue of items pushed to ``inbound`` sources (deduped by id)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .base import insert_or, wrap_exceptions
from .schema import inbound_t


class InboundMixin:
    engine: Engine

    @wrap_exceptions("queueing a pushed item")
    def accept_inbound(self, source_id: str, message_id: str, payload: str, now: datetime) -> bool:
        """Store a pushed item once; False when this message id was seen before."""
        with self.engine.begin() as conn:  # two replicas may receive one push at once
            return (
                insert_or(
                    conn,
                    inbound_t,
                    dict(
                        source_id=source_id,
                        message_id=message_id,
                        received_at=now,
                        payload=payload,
                        consumed=False,
                    ),
                    keys=["source_id", "message_id"],
                )
                == 1
            )

    @wrap_exceptions("reading pushed items")
    def pending_inbound(self, source_id: str) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return [
                (r.message_id, r.payload)
                for r in conn.execute(
                    sa.select(inbound_t)
                    .where(inbound_t.c.source_id == source_id, inbound_t.c.consumed.is_(False))
                    .order_by(inbound_t.c.received_at)
                )
            ]

    @wrap_exceptions("marking pushed items consumed")
    def consume_inbound(self, source_id: str, message_ids: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                inbound_t.update()
                .where(
                    inbound_t.c.source_id == source_id,
                    inbound_t.c.message_id.in_(list(message_ids)),
                )
                .values(consumed=True)
            )
