"""The store: the only module that speaks SQL (SQLAlchemy Core; SQLite by default).

All datetimes going in and out are timezone-aware UTC. Each public method is one
transaction, so a crash (or SIGKILL) between two calls leaves every row either
written whole or not at all; SQLite runs in WAL mode with ``synchronous=NORMAL``.

The schema is versioned: ``MIGRATIONS[n]`` brings a database from version n to n+1,
and opening a database applies what is missing. A database newer than this code is
refused (``StoreError``) rather than damaged.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from .errors import StoreError
from .models import DeliveryState, Image, Item, QualityFlag, Translation


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes stored as ISO-8601 UTC text (sortable, unambiguous)."""

    impl = sa.String(40)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")  # a bug: time is UTC inside
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata, sa.Column("version", sa.Integer, nullable=False)
)

sources_t = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("city_id", sa.String, nullable=False),
    sa.Column("etag", sa.String),
    sa.Column("last_modified", sa.String),
    sa.Column("activated_at", UTCDateTime),  # first successful poll
    sa.Column("last_poll_at", UTCDateTime),
    sa.Column("last_ok_at", UTCDateTime),
    sa.Column("next_poll_at", UTCDateTime),
    sa.Column("last_result", sa.String),  # ok | not-modified | error | alert
    sa.Column("consecutive_failures", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("alert", sa.Text),  # a human must look (layout changed, challenge, …)
    sa.Column("warnings", sa.Text),  # JSON list of the last poll's non-fatal notes
    sa.Column("items_seen", sa.Integer, nullable=False, default=0),
)

items_t = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.String, nullable=False),
    sa.Column("key", sa.String, nullable=False),
    sa.Column("city_id", sa.String, nullable=False),
    sa.Column("url", sa.String),
    sa.Column("current_version", sa.Integer, nullable=False),
    sa.Column("current_hash", sa.String, nullable=False),
    sa.Column("hash_changes", sa.Integer, nullable=False, default=0),
    sa.Column("echo", sa.Boolean, nullable=False, default=False),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("source_id", "key", name="uq_items_source_key"),
)

versions_t = sa.Table(
    "item_versions",
    metadata,
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("content_hash", sa.String, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("published_at", UTCDateTime),
    sa.Column("images", sa.Text, nullable=False),  # JSON
    sa.Column("categories", sa.Text, nullable=False),  # JSON
    sa.Column("flags", sa.Text, nullable=False),  # JSON
    sa.Column("seen_at", UTCDateTime, nullable=False),
)

translations_t = sa.Table(
    "translations",
    metadata,
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("language", sa.String, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("pivot", sa.Text),  # JSON {title, summary, body_html} in English
    sa.Column("flags", sa.Text, nullable=False),  # JSON list of QualityFlag
    sa.Column("packages", sa.Text, nullable=False),  # JSON list "name@version"
    sa.Column("created_at", UTCDateTime, nullable=False),
)

deliveries_t = sa.Table(
    "deliveries",
    metadata,
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("target_city", sa.String, primary_key=True),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("written_version", sa.Integer),  # item version syncd last wrote remotely
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("parked_state", sa.String),  # state to resume on `syncd retry`
    sa.Column("remote_id", sa.String),
    sa.Column("remote_url", sa.String),
    sa.Column("fingerprint", sa.Text),  # target-specific evidence of our last write
    sa.Column("written_hash", sa.String),  # content hash of what we last wrote
    sa.Column("changed_after_review", sa.Boolean, nullable=False, default=False),
    sa.Column("note", sa.Text),  # why skipped / what an editor did
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

memory_t = sa.Table(
    "translation_memory",
    metadata,
    sa.Column("route", sa.String, primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

media_t = sa.Table(
    "media",
    metadata,
    sa.Column("target_city", sa.String, primary_key=True),
    sa.Column("sha256", sa.String, primary_key=True),
    sa.Column("remote_id", sa.String, nullable=False),
    sa.Column("url", sa.String),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

inbound_t = sa.Table(
    "inbound_messages",
    metadata,
    sa.Column("source_id", sa.String, primary_key=True),
    sa.Column("message_id", sa.String, primary_key=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the accepted item, JSON
    sa.Column("consumed", sa.Boolean, nullable=False, default=False),
)

counters_t = sa.Table(
    "counters",
    metadata,
    sa.Column("scope", sa.String, primary_key=True),  # source or target id
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("value", sa.Integer, nullable=False, default=0),
)

targets_t = sa.Table(
    "targets",
    metadata,
    sa.Column("city_id", sa.String, primary_key=True),
    sa.Column("healthy", sa.Boolean, nullable=False, default=True),
    sa.Column("reason", sa.Text),
    sa.Column("since", UTCDateTime),
    sa.Column("credential", sa.String),  # hash of the credentials that failed
)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn)


#: MIGRATIONS[n] takes a database at version n to version n + 1.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)


# ------------------------------------------------------------------------ row objects


@dataclass(frozen=True)
class SourceRow:
    id: str
    city_id: str
    etag: str | None = None
    last_modified: str | None = None
    activated_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_ok_at: datetime | None = None
    next_poll_at: datetime | None = None
    last_result: str | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    alert: str | None = None
    warnings: str | None = None
    items_seen: int = 0


@dataclass(frozen=True)
class ItemRow:
    id: int
    source_id: str
    key: str
    city_id: str
    url: str | None
    current_version: int
    current_hash: str
    hash_changes: int
    echo: bool
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class DeliveryRow:
    item_id: int
    target_city: str
    state: DeliveryState
    written_version: int | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    parked_state: str | None
    remote_id: str | None
    remote_url: str | None
    fingerprint: str | None
    written_hash: str | None
    changed_after_review: bool
    note: str | None
    created_at: datetime
    updated_at: datetime


def _row(cls: type, row: Any) -> Any:
    m = row._mapping
    kwargs = {f.name: m[f.name] for f in fields(cls) if f.name in m}
    if cls is DeliveryRow:
        kwargs["state"] = DeliveryState(kwargs["state"])
    return cls(**kwargs)


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


def _flags_json(flags: Iterable[QualityFlag]) -> str:
    return json.dumps([f.__dict__ for f in flags], ensure_ascii=False)


# ---------------------------------------------------------------------------- store


class Store:
    """SQL storage for sources, items, versions, translations and deliveries."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine: Engine = sa.create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._migrate()
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            raise StoreError(f"cannot open the store at {url}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    # -- schema

    def _migrate(self) -> None:
        with self.engine.begin() as conn:
            insp = sa.inspect(conn)
            if not insp.has_table("schema_version"):
                current = 0
            else:
                current = conn.execute(sa.select(schema_version.c.version)).scalar() or 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"the store at {self.url} has schema version {current}, newer than this "
                    f"syncd understands ({SCHEMA_VERSION}); upgrade syncd"
                )
            for n in range(current, SCHEMA_VERSION):
                MIGRATIONS[n](conn)
            if current == 0:
                conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
            elif current != SCHEMA_VERSION:
                conn.execute(schema_version.update().values(version=SCHEMA_VERSION))

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(schema_version.c.version)).scalar_one())

    # -- sources

    def source(self, source_id: str, city_id: str) -> SourceRow:
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(sources_t).where(sources_t.c.id == source_id)).first()
            if row is None:
                conn.execute(
                    sources_t.insert().values(
                        id=source_id, city_id=city_id, consecutive_failures=0, items_seen=0
                    )
                )
                return SourceRow(id=source_id, city_id=city_id)
            result: SourceRow = _row(SourceRow, row)
            return result

    def sources(self) -> list[SourceRow]:
        with self.engine.connect() as conn:
            return [
                _row(SourceRow, r)
                for r in conn.execute(sa.select(sources_t).order_by(sources_t.c.id))
            ]

    def update_source(self, source_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sources_t.update().where(sources_t.c.id == source_id).values(**values))

    # -- items

    def item(self, source_id: str, key: str) -> ItemRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(items_t).where(items_t.c.source_id == source_id, items_t.c.key == key)
            ).first()
            return None if row is None else _row(ItemRow, row)

    def items_by_keys(self, source_id: str, keys: Sequence[str]) -> dict[str, ItemRow]:
        out: dict[str, ItemRow] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                for row in conn.execute(
                    sa.select(items_t).where(
                        items_t.c.source_id == source_id, items_t.c.key.in_(chunk)
                    )
                ):
                    r: ItemRow = _row(ItemRow, row)
                    out[r.key] = r
        return out

    def item_by_id(self, item_id: int) -> ItemRow:
        with self.engine.connect() as conn:
            result: ItemRow = _row(
                ItemRow, conn.execute(sa.select(items_t).where(items_t.c.id == item_id)).one()
            )
            return result

    def record_items(
        self,
        city_id: str,
        seen: Sequence[tuple[Item, str]],
        partner_cities: Sequence[str],
        skip: Mapping[str, str],
        now: datetime,
    ) -> list[ItemRow]:
        """Record one poll's items in one transaction (promise 2: recorded before any work).

        ``seen`` pairs each item with its change ("new", "changed", "unchanged",
        "capped"). New items get a delivery row per partner city, ``pending`` or, when
        ``skip`` names the item key, ``skipped`` with that reason. Changed items get a
        new version; their deliveries are not touched here (``decide`` reads versions).
        """
        rows: list[ItemRow] = []
        with self.engine.begin() as conn:
            known: dict[tuple[str, str], Any] = {}
            by_source: dict[str, list[str]] = {}
            for item, _change in seen:
                by_source.setdefault(item.source_id, []).append(item.key)
            for source_id, keys in by_source.items():
                for i in range(0, len(keys), 500):
                    for r in conn.execute(
                        sa.select(items_t).where(
                            items_t.c.source_id == source_id, items_t.c.key.in_(keys[i : i + 500])
                        )
                    ):
                        known[(r.source_id, r.key)] = r
            untouched: list[int] = []
            for item, change in seen:
                existing = known.get((item.source_id, item.key))
                if existing is not None and change not in ("changed",):
                    # unchanged (or change capped): only the sighting is recorded,
                    # in one statement for all of them below
                    untouched.append(existing.id)
                    rows.append(dataclasses.replace(_row(ItemRow, existing), last_seen_at=now))
                    continue
                h = item.content_hash()
                if existing is None:
                    item_id = conn.execute(  # type: ignore[index]
                        items_t.insert().values(
                            source_id=item.source_id,
                            key=item.key,
                            city_id=city_id,
                            url=item.url,
                            current_version=1,
                            current_hash=h,
                            hash_changes=0,
                            echo=item.echo_marker is not None,
                            first_seen_at=now,
                            last_seen_at=now,
                        )
                    ).inserted_primary_key[0]
                    self._insert_version(conn, item_id, 1, item, now)
                    for target in partner_cities:
                        reason = skip.get(item.key)
                        conn.execute(
                            deliveries_t.insert().values(
                                item_id=item_id,
                                target_city=target,
                                state=(
                                    DeliveryState.SKIPPED if reason else DeliveryState.PENDING
                                ).value,
                                attempts=0,
                                changed_after_review=False,
                                note=reason,
                                created_at=now,
                                updated_at=now,
                            )
                        )
                elif change == "changed":
                    item_id = existing.id
                    version = existing.current_version + 1
                    self._insert_version(conn, item_id, version, item, now)
                    conn.execute(
                        items_t.update()
                        .where(items_t.c.id == item_id)
                        .values(
                            current_version=version,
                            current_hash=h,
                            hash_changes=existing.hash_changes + 1,
                            url=item.url,
                            last_seen_at=now,
                        )
                    )
                rows.append(
                    _row(
                        ItemRow,
                        conn.execute(sa.select(items_t).where(items_t.c.id == item_id)).one(),
                    )
                )
            for i in range(0, len(untouched), 500):
                conn.execute(
                    items_t.update()
                    .where(items_t.c.id.in_(untouched[i : i + 500]))
                    .values(last_seen_at=now)
                )
        return rows

    def _insert_version(
        self, conn: Connection, item_id: int, version: int, item: Item, now: datetime
    ) -> None:
        conn.execute(
            versions_t.insert().values(
                item_id=item_id,
                version=version,
                content_hash=item.content_hash(),
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

    def item_version(self, item_id: int, version: int | None = None) -> Item:
        with self.engine.connect() as conn:
            it = conn.execute(sa.select(items_t).where(items_t.c.id == item_id)).one()
            v = conn.execute(
                sa.select(versions_t).where(
                    versions_t.c.item_id == item_id,
                    versions_t.c.version == (version or it.current_version),
                )
            ).one()
            return _item_from_version(it.source_id, it.key, it.url, v)

    # -- translations

    def save_translation(self, item_id: int, version: int, t: Translation, now: datetime) -> None:
        values = dict(
            title=t.title,
            summary=t.summary,
            body_html=t.body_html,
            pivot=None if t.pivot is None else json.dumps(dict(t.pivot), ensure_ascii=False),
            flags=_flags_json(t.flags),
            packages=json.dumps(list(t.packages)),
            created_at=now,
        )
        key = dict(item_id=item_id, version=version, language=t.language)
        with self.engine.begin() as conn:
            done = conn.execute(
                translations_t.update()
                .where(*(translations_t.c[k] == v for k, v in key.items()))
                .values(**values)
            ).rowcount
            if not done:
                conn.execute(translations_t.insert().values(**key, **values))

    def translation(self, item_id: int, version: int, language: str) -> Translation | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(translations_t).where(
                    translations_t.c.item_id == item_id,
                    translations_t.c.version == version,
                    translations_t.c.language == language,
                )
            ).first()
        if r is None:
            return None
        return Translation(
            language=r.language,
            title=r.title,
            summary=r.summary,
            body_html=r.body_html,
            pivot=None if r.pivot is None else json.loads(r.pivot),
            flags=tuple(QualityFlag(**f) for f in json.loads(r.flags)),
            packages=tuple(json.loads(r.packages)),
        )

    # -- translation memory (implements syncd.translate.TranslationMemory)

    def recall(self, route: str, sentences: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        uniq = list(dict.fromkeys(sentences))
        with self.engine.connect() as conn:
            for i in range(0, len(uniq), 500):
                for r in conn.execute(
                    sa.select(memory_t.c.source, memory_t.c.target).where(
                        memory_t.c.route == route, memory_t.c.source.in_(uniq[i : i + 500])
                    )
                ):
                    out[r.source] = r.target
        return out

    def remember(self, route: str, pairs: Mapping[str, str], now: datetime | None = None) -> None:
        if not pairs:
            return
        stamp = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            known: set[str] = set()
            keys = list(pairs)
            for i in range(0, len(keys), 500):
                known.update(
                    conn.execute(
                        sa.select(memory_t.c.source).where(
                            memory_t.c.route == route, memory_t.c.source.in_(keys[i : i + 500])
                        )
                    ).scalars()
                )
            rows = [
                dict(route=route, source=s, target=t, created_at=stamp)
                for s, t in pairs.items()
                if s not in known
            ]
            if rows:
                conn.execute(memory_t.insert(), rows)

    # -- deliveries

    def delivery(self, item_id: int, target_city: str) -> DeliveryRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(deliveries_t).where(
                    deliveries_t.c.item_id == item_id, deliveries_t.c.target_city == target_city
                )
            ).first()
            return None if r is None else _row(DeliveryRow, r)

    def open_deliveries(self, source_id: str | None = None) -> list[tuple[DeliveryRow, ItemRow]]:
        """Deliveries that may need work: not skipped/parked, plus hands-off ones whose
        item has a version newer than what syncd wrote (to record "changed after review")."""
        j = deliveries_t.join(items_t, items_t.c.id == deliveries_t.c.item_id)
        closed = [DeliveryState.SKIPPED.value, DeliveryState.PARKED.value]
        q = (
            sa.select(deliveries_t, items_t.c.source_id)
            .select_from(j)
            .where(deliveries_t.c.state.not_in(closed))
        )
        q = q.where(
            sa.or_(
                deliveries_t.c.state.in_(
                    [DeliveryState.PENDING.value, DeliveryState.CREATING.value]
                ),
                deliveries_t.c.written_version.is_(None),
                deliveries_t.c.written_version < items_t.c.current_version,
            )
        )
        q = q.where(deliveries_t.c.changed_after_review.is_(False))
        if source_id is not None:
            q = q.where(items_t.c.source_id == source_id)
        q = q.order_by(deliveries_t.c.item_id, deliveries_t.c.target_city)
        return self._with_items(q)

    def _with_items(self, q: Any) -> list[tuple[DeliveryRow, ItemRow]]:
        """Run a deliveries query and pair each row with its item (one query per 500
        items, not one per row)."""
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            item_ids = sorted({r.item_id for r in rows})
            items: dict[int, ItemRow] = {}
            for i in range(0, len(item_ids), 500):
                for r in conn.execute(
                    sa.select(items_t).where(items_t.c.id.in_(item_ids[i : i + 500]))
                ):
                    items[r.id] = _row(ItemRow, r)
        return [(_row(DeliveryRow, r), items[r.item_id]) for r in rows]

    def update_delivery(self, item_id: int, target_city: str, now: datetime, **values: Any) -> None:
        if "state" in values and isinstance(values["state"], DeliveryState):
            values["state"] = values["state"].value
        with self.engine.begin() as conn:
            n = conn.execute(
                deliveries_t.update()
                .where(deliveries_t.c.item_id == item_id, deliveries_t.c.target_city == target_city)
                .values(updated_at=now, **values)
            ).rowcount
            if n != 1:
                raise StoreError(f"no delivery for item {item_id} → {target_city}")

    def deliveries(self, state: DeliveryState | None = None) -> list[tuple[DeliveryRow, ItemRow]]:
        q = sa.select(deliveries_t)
        if state is not None:
            q = q.where(deliveries_t.c.state == state.value)
        return self._with_items(q.order_by(deliveries_t.c.item_id, deliveries_t.c.target_city))

    def delivery_counts(self) -> dict[str, dict[str, int]]:
        q = sa.select(deliveries_t.c.target_city, deliveries_t.c.state, sa.func.count()).group_by(
            deliveries_t.c.target_city, deliveries_t.c.state
        )
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for city, state, n in conn.execute(q):
                out.setdefault(city, {})[state] = n
        return out

    def changed_after_review(self) -> list[tuple[DeliveryRow, ItemRow]]:
        q = sa.select(deliveries_t).where(deliveries_t.c.changed_after_review.is_(True))
        return self._with_items(q.order_by(deliveries_t.c.item_id, deliveries_t.c.target_city))

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

    def quality_flag_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for (flags,) in conn.execute(sa.select(translations_t.c.flags)):
                for f in json.loads(flags):
                    counts[f["kind"]] = counts.get(f["kind"], 0) + 1
        return counts

    # -- media cache (targets reuse uploads by content hash)

    def media(self, target_city: str, sha256: str) -> tuple[str, str | None] | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(media_t).where(
                    media_t.c.target_city == target_city, media_t.c.sha256 == sha256
                )
            ).first()
            return None if r is None else (r.remote_id, r.url)

    def remember_media(
        self, target_city: str, sha256: str, remote_id: str, url: str | None, now: datetime
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                media_t.delete().where(
                    media_t.c.target_city == target_city, media_t.c.sha256 == sha256
                )
            )
            conn.execute(
                media_t.insert().values(
                    target_city=target_city,
                    sha256=sha256,
                    remote_id=remote_id,
                    url=url,
                    created_at=now,
                )
            )

    # -- target health

    def target_health(self, city_id: str) -> tuple[bool, str | None, str | None]:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(targets_t).where(targets_t.c.city_id == city_id)).first()
            return (True, None, None) if r is None else (bool(r.healthy), r.reason, r.credential)

    def set_target_health(
        self, city_id: str, healthy: bool, reason: str | None, credential: str | None, now: datetime
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(targets_t.delete().where(targets_t.c.city_id == city_id))
            conn.execute(
                targets_t.insert().values(
                    city_id=city_id,
                    healthy=healthy,
                    reason=reason,
                    credential=credential,
                    since=now,
                )
            )

    # -- inbound pushes (dedupe by message id)

    def accept_inbound(self, source_id: str, message_id: str, payload: str, now: datetime) -> bool:
        """Store a pushed item once; False when this message id was seen before."""
        with self.engine.begin() as conn:
            seen = conn.execute(
                sa.select(inbound_t.c.message_id).where(
                    inbound_t.c.source_id == source_id, inbound_t.c.message_id == message_id
                )
            ).first()
            if seen is not None:
                return False
            conn.execute(
                inbound_t.insert().values(
                    source_id=source_id,
                    message_id=message_id,
                    received_at=now,
                    payload=payload,
                    consumed=False,
                )
            )
            return True

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

    # -- counters (refusals, alerts, …) shown by `syncd status`

    def bump(self, scope: str, name: str, by: int = 1) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(
                counters_t.update()
                .where(counters_t.c.scope == scope, counters_t.c.name == name)
                .values(value=counters_t.c.value + by)
            ).rowcount
            if not n:
                conn.execute(counters_t.insert().values(scope=scope, name=name, value=by))

    def counters(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(sa.select(counters_t)):
                out.setdefault(r.scope, {})[r.name] = r.value
        return out


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
