"""The store's tables and their migrations. Contains no business logic.

All datetimes are stored as ISO-8601 UTC text (``UTCDateTime``): sortable,
unambiguous, the same on SQLite and PostgreSQL. A naive datetime is a bug and raises.

The schema is versioned. A new database gets the current tables and the current
version at once; an existing one at version n is brought up by ``MIGRATIONS[n:]``
(``MIGRATIONS[n]`` takes version n + 1 to n + 2; version 1 is the first release).
A database newer than this code is refused rather than damaged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import StoreError


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
    # the replica polling it now, and until when (store/leases.py)
    sa.Column("lease_holder", sa.String),
    sa.Column("lease_until", UTCDateTime),
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
    sa.Column("city_key", sa.String),  # identity within the city (syncd.identity)
    sa.UniqueConstraint("source_id", "key", name="uq_items_source_key"),
)
_items_city_key = sa.Index("ix_items_city_key", items_t.c.city_id, items_t.c.city_key)

aliases_t = sa.Table(
    "item_aliases",
    metadata,
    sa.Column("source_id", sa.String, primary_key=True),
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False),
    sa.Column("content_hash", sa.String, nullable=False),  # of the alias's own content
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
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
    sa.Column("segments", sa.Text),  # JSON list of Segment (sentence alignment)
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
    # the replica carrying it now, and until when (store/leases.py)
    sa.Column("lease_holder", sa.String),
    sa.Column("lease_until", UTCDateTime),
    # the item version in the editors' desk (held or approved there)
    sa.Column("review_version", sa.Integer),
)

memory_t = sa.Table(
    "translation_memory",
    metadata,
    sa.Column("route", sa.String, primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("target", sa.Text, nullable=False),
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


pages_t = sa.Table(
    "pages",
    metadata,
    sa.Column("source_id", sa.String, primary_key=True),
    sa.Column("url", sa.String, primary_key=True),
    sa.Column("etag", sa.String),
    sa.Column("last_modified", sa.String),
    sa.Column("content_hash", sa.String, nullable=False),  # of the page as read
    sa.Column("entry_hash", sa.String, nullable=False),  # of what the list said
    sa.Column("fetched_at", UTCDateTime, nullable=False),
    sa.Column("revisit_at", UTCDateTime, nullable=False),
)


target_contacts_t = sa.Table(
    "target_contacts",
    metadata,
    sa.Column("city_id", sa.String, primary_key=True),
    sa.Column("last_ok_at", UTCDateTime),  # the last pass the target answered in
    sa.Column("last_error", sa.Text),  # the last failed contact (kept after recovery)
    sa.Column("last_error_at", UTCDateTime),
    sa.Column("failing_since", UTCDateTime),  # set while contacts fail
    sa.Column("failures", sa.Integer, nullable=False, default=0),  # failed passes in a row
)


operator_alerts_t = sa.Table(
    "operator_alerts",
    metadata,
    sa.Column("key", sa.String, primary_key=True),  # syncd.health.Problem.key
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("subject", sa.String, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("since", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),  # the last message about it (raised or recovered)
    sa.Column("raise_sent", sa.Boolean, nullable=False, default=False),
)


# -------------------------------------------------------------- the editors' desk

editors_t = sa.Table(
    "desk_editors",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("city_id", sa.String, nullable=False),
    sa.Column("language", sa.String, nullable=False),  # de | zh | en: the UI's language
    sa.Column("email", sa.String),
    sa.Column("password_hash", sa.String, nullable=False),  # scrypt$…, never the password
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("password_changed_at", UTCDateTime, nullable=False),
    sa.Column("last_digest_at", UTCDateTime),  # the last e-mail digest sent
)

sessions_t = sa.Table(
    "desk_sessions",
    metadata,
    sa.Column("id_hash", sa.String, primary_key=True),  # SHA-256 of the session id
    sa.Column("editor", sa.String, nullable=False),
    sa.Column("csrf", sa.String, nullable=False),
    sa.Column("language", sa.String, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

audit_t = sa.Table(
    "desk_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("city_id", sa.String, nullable=False),
    sa.Column("editor", sa.String, nullable=False),
    sa.Column("action", sa.String, nullable=False),
    sa.Column("item_id", sa.Integer),
    sa.Column("version", sa.Integer),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Index("ix_desk_audit_city_at", "city_id", "at"),
)

#: the editor's text of one draft version: a working copy while held, frozen once
#: approved (what the target receives)
desk_texts_t = sa.Table(
    "desk_texts",
    metadata,
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("target_city", sa.String, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("edits", sa.Text, nullable=False),  # JSON {"body:3": "sentence", …}
    sa.Column("whole", sa.Boolean, nullable=False, default=False),  # whole body rewritten
    sa.Column("editor", sa.String, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: the last decision an editor took on a delivery (the queue's new/changed/…)
reviews_t = sa.Table(
    "desk_reviews",
    metadata,
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("target_city", sa.String, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("decision", sa.String, nullable=False),  # approved | rejected
    sa.Column("editor", sa.String, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", UTCDateTime, nullable=False),
)

#: editors' corrected sentences: the city's translation memory, used before the models
corrections_t = sa.Table(
    "desk_corrections",
    metadata,
    sa.Column("city_id", sa.String, primary_key=True),  # the city whose editor corrected
    sa.Column("source", sa.Text, primary_key=True),  # normalized source sentence
    sa.Column("language", sa.String, nullable=False),  # the target language
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("machine", sa.Text, nullable=False),  # what the models had made of it
    sa.Column("editor", sa.String, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)

#: the desk's own secrets (the key its session cookies are signed with), made once
desk_secrets_t = sa.Table(
    "desk_secrets",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("value", sa.String, nullable=False),
)

DESK_TABLES = (
    editors_t,
    sessions_t,
    audit_t,
    desk_texts_t,
    reviews_t,
    corrections_t,
    desk_secrets_t,
)
DESK_INDEXES = (
    sa.Index("ix_deliveries_target_state", deliveries_t.c.target_city, deliveries_t.c.state),
    sa.Index("ix_items_first_seen", items_t.c.first_seen_at),
)


def _v2_drop_media(conn: Connection) -> None:
    # version 1 kept a cache of uploaded media that nothing read (the WordPress
    # bridge plugin finds uploads by SHA-256 itself)
    conn.exec_driver_sql("DROP TABLE IF EXISTS media")


def _add_pages(conn: Connection) -> None:
    # page sources remember article validators and hashes across processes (issue 12)
    pages_t.create(conn, checkfirst=True)


def _add_city_identity(conn: Connection) -> None:
    # one item per article and city, whichever of the city's sources brings it (issue 12)
    inspector = sa.inspect(conn)
    if not inspector.has_table("items"):
        items_t.create(conn)
    elif "city_key" not in {c["name"] for c in inspector.get_columns("items")}:
        conn.exec_driver_sql("ALTER TABLE items ADD COLUMN city_key VARCHAR")
    _items_city_key.create(conn, checkfirst=True)
    aliases_t.create(conn, checkfirst=True)


def _add_leases(conn: Connection) -> None:
    # row leases for several replicas on one PostgreSQL (issue 13); self-contained and
    # idempotent, so it may be renumbered when other migrations land beside it
    for table in (sources_t, deliveries_t):
        if not sa.inspect(conn).has_table(table.name):
            continue  # not there yet: made whole with the columns by the next create
        have = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
        for name in ("lease_holder", "lease_until"):
            if name not in have:
                col = table.c[name]
                kind = col.type.compile(conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")


def _target_contacts(conn: Connection) -> None:
    # what passes saw of each target (last success, last error, failing since):
    # status, /healthz and alerts tell "unreachable since" for 5xx and refused
    # connections too, not only for a 401
    target_contacts_t.create(conn, checkfirst=True)


def _operator_alerts(conn: Connection) -> None:
    # what the operator was told, so that alerts are deduplicated across restarts
    operator_alerts_t.create(conn, checkfirst=True)


def _add_column(conn: Connection, table: sa.Table, column: str) -> None:
    """``ALTER TABLE … ADD COLUMN`` unless it is there (safe to run twice); a missing
    table is created whole."""
    if not sa.inspect(conn).has_table(table.name):
        table.create(conn)
        return
    have = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    if column not in have:
        col = table.c[column]
        ddl = col.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column} {ddl}")


def _desk(conn: Connection) -> None:
    """The editors' desk: editors, sessions, audit, their texts and decisions, their
    corrections; the desk's version of a delivery; sentence alignment of translations."""
    items_t.create(conn, checkfirst=True)  # referenced by the new tables
    for table in DESK_TABLES:
        table.create(conn, checkfirst=True)
    _add_column(conn, deliveries_t, "review_version")
    _add_column(conn, translations_t, "segments")
    for index in DESK_INDEXES:
        index.create(conn, checkfirst=True)


#: MIGRATIONS[n] takes a database at version n + 1 to version n + 2.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _v2_drop_media,
    _add_pages,
    _add_city_identity,
    _add_leases,
    _target_contacts,
    _operator_alerts,
    _desk,
]
SCHEMA_VERSION = len(MIGRATIONS) + 1


def migrate(conn: Connection, where: str) -> int:
    """Bring the database on ``conn`` to ``SCHEMA_VERSION``; returns the version it
    had (0 for a new one). ``where`` names the store in errors."""
    if not sa.inspect(conn).has_table("schema_version"):
        metadata.create_all(conn)
        conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
        return 0
    current = conn.execute(sa.select(schema_version.c.version)).scalar() or 0
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"the store at {where} has schema version {current}, newer than this syncd "
            f"understands ({SCHEMA_VERSION}); upgrade syncd"
        )
    if current < 1:
        raise StoreError(f"the store at {where} has no valid schema version ({current})")
    for n in range(current - 1, SCHEMA_VERSION - 1):
        MIGRATIONS[n](conn)
    if current != SCHEMA_VERSION:
        conn.execute(schema_version.update().values(version=SCHEMA_VERSION))
    return int(current)
