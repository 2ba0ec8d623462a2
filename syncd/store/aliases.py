"""Store domain: one item per article and city (``items.city_key``), and the other
sources' items that are aliases of it (``item_aliases``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..intents import NewAlias
from ..models import AliasRow, ItemRow
from .base import chunks, wrap_exceptions
from .schema import aliases_t, items_t


def _item_row(row: Any) -> ItemRow:
    m = row._mapping
    return ItemRow(**{f.name: m[f.name] for f in fields(ItemRow)})


def holder_of(conn: Connection, city_id: str, city_key: str) -> int | None:
    """The id of the city's item with this key, if any (inside the caller's transaction)."""
    return conn.execute(
        sa.select(items_t.c.id)
        .where(items_t.c.city_id == city_id, items_t.c.city_key == city_key)
        .order_by(items_t.c.id)
        .limit(1)
    ).scalar()


def upsert_alias(conn: Connection, a: NewAlias, now: datetime) -> None:
    """Record an alias, or update its content hash and sighting."""
    n = conn.execute(
        aliases_t.update()
        .where(aliases_t.c.source_id == a.source_id, aliases_t.c.key == a.key)
        .values(item_id=a.item_id, content_hash=a.content_hash, last_seen_at=now)
    ).rowcount
    if not n:
        conn.execute(
            aliases_t.insert().values(
                source_id=a.source_id,
                key=a.key,
                item_id=a.item_id,
                content_hash=a.content_hash,
                first_seen_at=now,
                last_seen_at=now,
            )
        )


class AliasesMixin:
    engine: Engine

    @wrap_exceptions("reading items by their identity in the city")
    def items_by_city_keys(self, city_id: str, keys: Sequence[str]) -> dict[str, ItemRow]:
        """The city's items holding these keys, by key (the first, should two hold one)."""
        out: dict[str, ItemRow] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(dict.fromkeys(keys))):
                rows = conn.execute(
                    sa.select(items_t)
                    .where(items_t.c.city_id == city_id, items_t.c.city_key.in_(chunk))
                    .order_by(items_t.c.id)
                )
                for row in rows:
                    r = _item_row(row)
                    if r.city_key is not None:
                        out.setdefault(r.city_key, r)
        return out

    @wrap_exceptions("reading item aliases")
    def aliases_by_keys(self, source_id: str, keys: Sequence[str]) -> dict[str, AliasRow]:
        """The source's items that are aliases of another source's item, by key."""
        out: dict[str, AliasRow] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(keys)):
                rows = conn.execute(
                    sa.select(aliases_t).where(
                        aliases_t.c.source_id == source_id, aliases_t.c.key.in_(chunk)
                    )
                )
                for r in rows:
                    out[r.key] = AliasRow(r.source_id, r.key, r.item_id, r.content_hash)
        return out

    @wrap_exceptions("reading items")
    def items_by_ids(self, ids: Sequence[int]) -> dict[int, ItemRow]:
        out: dict[int, ItemRow] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(dict.fromkeys(ids))):
                for row in conn.execute(sa.select(items_t).where(items_t.c.id.in_(chunk))):
                    r = _item_row(row)
                    out[r.id] = r
        return out

    @wrap_exceptions("reading item aliases")
    def aliased(self, item_ids: Sequence[int]) -> set[int]:
        """Those of ``item_ids`` that another source's item is an alias of."""
        out: set[int] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(list(dict.fromkeys(item_ids))):
                out.update(
                    conn.execute(
                        sa.select(aliases_t.c.item_id).where(aliases_t.c.item_id.in_(chunk))
                    ).scalars()
                )
        return out
