"""Store domain: sources (validators, poll results, next poll times)."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..intents import SourcePolled
from ..models import SourceRow
from .base import insert_or, wrap_exceptions
from .schema import UTCDateTime, counters_t, sources_t


def source_row(row: Any) -> SourceRow:
    m = row._mapping
    return SourceRow(**{f.name: m[f.name] for f in fields(SourceRow)})


def apply_source_polled(conn: Connection, p: SourcePolled) -> None:
    """Record one poll's outcome on the source's row (inside the caller's transaction)."""
    values: dict[str, Any] = dict(
        last_poll_at=p.at,
        last_result=p.result,
        consecutive_failures=p.failures,
        last_error=p.error,
        alert=p.alert,
        next_poll_at=p.next_poll_at,
        items_seen=sources_t.c.items_seen + p.new_items,
    )
    if p.ok:
        values["last_ok_at"] = p.at
        values["warnings"] = (
            json.dumps(list(p.warnings), ensure_ascii=False) if p.warnings else None
        )
    if p.validators is not None:
        values["etag"], values["last_modified"] = p.validators
    if p.activate:
        at = sa.literal(p.at, UTCDateTime())
        values["activated_at"] = sa.func.coalesce(sources_t.c.activated_at, at, type_=UTCDateTime())
    n = conn.execute(sources_t.update().where(sources_t.c.id == p.source_id).values(**values))
    if not n.rowcount:
        conn.execute(
            sources_t.insert().values(
                id=p.source_id,
                city_id=p.city_id,
                consecutive_failures=0,
                items_seen=0,
            )
        )
        conn.execute(sources_t.update().where(sources_t.c.id == p.source_id).values(**values))
    if p.count_alert:
        bump(conn, p.source_id, "alerts")


def bump(conn: Connection, scope: str, name: str, by: int = 1) -> None:
    insert_or(
        conn,
        counters_t,
        dict(scope=scope, name=name, value=by),
        keys=["scope", "name"],
        update=lambda new: {"value": counters_t.c.value + new.value},
    )


class SourcesMixin:
    engine: Engine

    @wrap_exceptions("reading a source")
    def source(self, source_id: str, city_id: str) -> SourceRow:
        """The source's row, created empty on first sight."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(sources_t).where(sources_t.c.id == source_id)).first()
            if row is None:
                insert_or(
                    conn,
                    sources_t,
                    dict(id=source_id, city_id=city_id, consecutive_failures=0, items_seen=0),
                    keys=["id"],
                )
                return SourceRow(id=source_id, city_id=city_id)
            return source_row(row)

    @wrap_exceptions("listing sources")
    def sources(self) -> list[SourceRow]:
        with self.engine.connect() as conn:
            return [
                source_row(r) for r in conn.execute(sa.select(sources_t).order_by(sources_t.c.id))
            ]

    @wrap_exceptions("counting an event")
    def bump(self, scope: str, name: str, by: int = 1) -> None:
        """Add to a counter shown by ``syncd status`` (refusals, alerts, …)."""
        with self.engine.begin() as conn:
            bump(conn, scope, name, by)

    @wrap_exceptions("reading counters")
    def counters(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(sa.select(counters_t)):
                out.setdefault(r.scope, {})[r.name] = r.value
        return out
