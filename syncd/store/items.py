"""Store domain: items and their versions; applying a whole poll."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..intents import NewAlias, NewItem, PollIntent
from ..models import Image, Item, ItemRow
from .aliases import holder_of, upsert_alias
from .base import chunks, wrap_exceptions
from .schema import deliveries_t, items_t, versions_t
from .sources import apply_source_polled


def item_row(row: Any) -> ItemRow:
    m = row._mapping
    return ItemRow(**{f.name: m[f.name] for f in fields(ItemRow)})


def _item_from_version(source_id: str, key: str, url: str | None, v: Any) -> Item:
    return Item(
        source_id=source_id,
        key=key,
        url=url,
        title=v.title,
        summary=v.summary,
        body_html=v.body_html,
        published=v.published_at,
        images=tuple(Image(**i) for i in json.loads(v.images)),
        categories=tuple(json.loads(v.categories)),
        flags=tuple(json.loads(v.flags)),
    )


def _insert_version(
    conn: Connection, item_id: int, version: int, item: Item, content_hash: str, now: datetime
) -> None:
    conn.execute(
        versions_t.insert().values(
            item_id=item_id,
            version=version,
            content_hash=content_hash,
            title=item.title,
            summary=item.summary,
            body_html=item.body_html,
            published_at=item.published,
            images=json.dumps([i.__dict__ for i in item.images], ensure_ascii=False),
            categories=json.dumps(list(item.categories), ensure_ascii=False),
            flags=json.dumps(list(item.flags), ensure_ascii=False),
            seen_at=now,
        )
    )


def _insert_new(conn: Connection, city_id: str, n: NewItem, now: datetime) -> None:
    item = n.item
    if n.city_key is not None:
        # another source of the city brought it first (a poll running alongside this
        # one): an alias of that item, without deliveries (promise 1)
        holder = holder_of(conn, city_id, n.city_key)
        if holder is not None:
            upsert_alias(conn, NewAlias(item.source_id, item.key, holder, n.content_hash), now)
            return
    item_id = conn.execute(
        items_t.insert().values(
            source_id=item.source_id,
            key=item.key,
            city_id=city_id,
            url=item.url,
            current_version=1,
            current_hash=n.content_hash,
            hash_changes=0,
            echo=item.echo_marker is not None,
            first_seen_at=now,
            last_seen_at=now,
            city_key=n.city_key,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    _insert_version(conn, item_id, 1, item, n.content_hash, now)
    if n.deliveries:
        conn.execute(
            deliveries_t.insert(),
            [
                dict(
                    item_id=item_id,
                    target_city=d.target_city,
                    state=d.state.value,
                    attempts=0,
                    changed_after_review=False,
                    note=d.skip_reason,
                    created_at=now,
                    updated_at=now,
                )
                for d in n.deliveries
            ],
        )


class ItemsMixin:
    engine: Engine

    @wrap_exceptions("reading items")
    def items_by_keys(self, source_id: str, keys: Sequence[str]) -> dict[str, ItemRow]:
        out: dict[str, ItemRow] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(keys)):
                for row in conn.execute(
                    sa.select(items_t).where(
                        items_t.c.source_id == source_id, items_t.c.key.in_(chunk)
                    )
                ):
                    r = item_row(row)
                    out[r.key] = r
        return out

    @wrap_exceptions("recording a poll")
    def apply_poll(self, intent: PollIntent) -> None:
        """Record one poll whole, in one transaction: new items with their versions
        and deliveries (or, when another source holds their city key, as aliases),
        new versions of changed items, aliases, sightings, the source's row."""
        now, city_id = intent.source.at, intent.source.city_id
        with self.engine.begin() as conn:
            for n in intent.new:
                _insert_new(conn, city_id, n, now)
            for c in intent.changed:
                _insert_version(conn, c.item_id, c.version, c.item, c.content_hash, now)
                conn.execute(
                    items_t.update()
                    .where(items_t.c.id == c.item_id)
                    .values(
                        current_version=c.version,
                        current_hash=c.content_hash,
                        hash_changes=c.hash_changes,
                        url=c.item.url,
                        last_seen_at=now,
                    )
                )
            for a in intent.aliases:
                upsert_alias(conn, a, now)
            for chunk in chunks(list(intent.seen)):
                conn.execute(
                    items_t.update().where(items_t.c.id.in_(chunk)).values(last_seen_at=now)
                )
            apply_source_polled(conn, intent.source)

    @wrap_exceptions("reading an item version")
    def item_version(self, item_id: int, version: int | None = None) -> Item:
        """An item as it was at ``version`` (default: its current one)."""
        with self.engine.connect() as conn:
            it = conn.execute(sa.select(items_t).where(items_t.c.id == item_id)).one()
            v = conn.execute(
                sa.select(versions_t).where(
                    versions_t.c.item_id == item_id,
                    versions_t.c.version == (version or it.current_version),
                )
            ).one()
            return _item_from_version(it.source_id, it.key, it.url, v)
