"""The store's engine, its one error boundary and shared helpers.

Every public store method is wrapped by ``wrap_exceptions(what)``: a database error
(a locked file, a full disk, a corrupt or unreadable file, a lost connection) becomes
one ``StoreError`` naming the store and what was being done, with the cause chained,
like lemon24/reader's ``wrap_exceptions``. Bugs (``TypeError``, a naive datetime) are
not database errors and stay loud.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from .. import logs
from ..errors import StoreError
from .owner import OwnerLock
from .schema import SCHEMA_VERSION, migrate, schema_version

log = logs.get("syncd.store")

P = ParamSpec("P")
R = TypeVar("R")

#: SQLite/PostgreSQL messages → what a person should read (first match wins)
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.I), r)
    for p, r in (
        (r"database is locked|database table is locked|busy", "locked by another process"),
        (r"disk is full|database or disk is full|no space left", "the disk is full"),
        (
            r"file is not a database|malformed|file is encrypted|not a database",
            "the file is damaged or not a syncd database",
        ),
        (r"readonly database|read-only|permission denied", "not writable (permissions)"),
        (r"unable to open database file", "cannot open the database file"),
        (
            r"could not connect|connection refused|server closed|terminating connection",
            "the database server is unreachable",
        ),
    )
)


def reason_of(exc: BaseException) -> str:
    """A short human reason for a database error (the driver's text when unknown)."""
    text = str(getattr(exc, "orig", None) or exc)
    for pattern, reason in _REASONS:
        if pattern.search(text):
            return reason
    return text.splitlines()[0] if text else type(exc).__name__


def display_url(url: str) -> str:
    """The storage URL without a password (``postgresql://u:***@host/db``)."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def wrap_exceptions(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Map database errors raised by a store method to ``StoreError``."""

    def decorator(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except sa.exc.StatementError as exc:
                if not isinstance(exc, sa.exc.DBAPIError):
                    raise  # our bug (a naive datetime, a bad bind): stays loud
                store = args[0]
                raise StoreError(
                    f"store {getattr(store, 'display_url', '?')}: {reason_of(exc)} (while {what})"
                ) from exc
            except sa.exc.SQLAlchemyError as exc:
                store = args[0]
                raise StoreError(
                    f"store {getattr(store, 'display_url', '?')}: {reason_of(exc)} (while {what})"
                ) from exc

        return wrapper

    return decorator


#: the PostgreSQL advisory lock that serialises opening (creating, migrating) a store
_MIGRATION_LOCK = 0x73796E6364  # "syncd"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """Opens the database (creating it and applying migrations) and closes it."""

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        clock: Callable[[], datetime] | None = None,
        busy_timeout: float = 10.0,
    ) -> None:
        """Open (and migrate) the store at ``url``.

        A missing SQLite file is created only with ``create`` (the commands that run
        passes say so); a 0-byte file is refused, never silently taken as a new store:
        it is what a truncated or lost database leaves. ``busy_timeout``: how many
        seconds a write waits for another writer before "locked".
        """
        self.url = url
        self.display_url = display_url(url)
        self.clock = clock or _utcnow
        self.path = sqlite_path(url)
        self._owner: OwnerLock | None = None
        if self.path is not None:
            self._check_file(create)
        try:
            self.engine: Engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise StoreError(
                f"store {self.display_url}: unusable URL or driver ({exc}){driver_hint(url)}"
            ) from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout))
        try:
            self._open()
        except BaseException:
            self.engine.dispose()
            raise

    def _check_file(self, create: bool) -> None:
        assert self.path is not None
        where = f"store {self.display_url}"
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            if not create:
                raise StoreError(
                    f"{where}: does not exist yet (`syncd run` or `syncd sync` creates it)"
                ) from None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"{where}: cannot create its folder ({exc.strerror or exc})"
                ) from exc
            log.info("store-created", store=self.display_url)
            return
        except OSError as exc:
            raise StoreError(f"{where}: cannot read it ({exc.strerror or exc})") from exc
        if size == 0:
            raise StoreError(
                f"{where}: the file is empty (0 bytes), as a truncated or lost database "
                "leaves it; restore a backup, or delete the file to start afresh (syncd "
                "then finds its earlier drafts by their markers)"
            )

    @property
    def shared(self) -> bool:
        """Whether several processes may work on this state at once (PostgreSQL
        replicas sharing work by row leases); False for SQLite (one owner)."""
        return self.engine.dialect.name != "sqlite"

    def claim(self, command: str) -> None:
        """Become the one process that works on this state (SQLite: an owner lock
        naming the holder; raises ``StoreBusy``). Released by ``close``."""
        if self.path is None or self._owner is not None:
            return
        owner = OwnerLock(self.path)
        try:
            owner.acquire(command, self.clock())
        except OSError as exc:
            raise StoreError(
                f"store {self.display_url}: cannot take its lock {owner.path} "
                f"({exc.strerror or exc})"
            ) from exc
        self._owner = owner

    @wrap_exceptions("opening the store")
    def _open(self) -> None:
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # replicas starting together on a new or older database: one creates or
                # migrates the tables, the others wait here and then find them done
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            migrate(conn, self.display_url)

    def close(self) -> None:
        self.engine.dispose()
        if self._owner is not None:
            self._owner.release()
            self._owner = None

    @wrap_exceptions("reading the schema version")
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(schema_version.c.version)).scalar_one())


def driver_hint(url: str) -> str:
    """What to install when a storage URL's driver is missing ("" when unknown)."""
    if url.startswith("postgres"):
        return "; install the PostgreSQL driver: pip install 'syncd[postgres]'"
    return ""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for in-memory databases and other engines."""
    try:
        u = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    if u.database.startswith("file:"):
        return None  # a URI (read-only probes); never created or locked
    return Path(u.database)


def insert_or(
    conn: Connection,
    table: sa.Table,
    rows: dict[str, Any] | list[dict[str, Any]],
    *,
    keys: list[str],
    update: Callable[[Any], dict[str, Any]] | None = None,
) -> int:
    """``INSERT … ON CONFLICT (keys) DO NOTHING`` (or ``DO UPDATE SET update(excluded)``),
    the same on SQLite and PostgreSQL: safe when two replicas write one row at once,
    where a read-then-insert would fail on the second. Returns the rows written (for
    one row: 0 when it existed and nothing was updated)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)
    if update is None:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    else:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=update(stmt.excluded))
    # counted by RETURNING: psycopg reports no rowcount for INSERT … ON CONFLICT here
    return len(conn.execute(stmt.returning(*(table.c[k] for k in keys)), rows).all())


def chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    """``values`` in slices that fit one ``IN (…)`` (SQLite limits bound parameters)."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def _sqlite_pragmas(busy_timeout: float, dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")  # first: WAL needs a lock
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def probe(url: str, busy_timeout: float = 10.0) -> tuple[list[str], list[str]]:
    """Look at a store without changing anything (for ``syncd check``).

    Returns (problems, notes): problems stop syncd from working (no driver, a damaged,
    empty, unreadable or newer file, a folder it cannot write); notes are fine
    (not created yet, will be upgraded). Opens SQLite files read-only; creates nothing.
    """
    where = f"store {display_url(url)}"
    path = sqlite_path(url)
    if path is None:
        try:
            engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            return [f"{where}: unusable URL or driver ({exc}){driver_hint(url)}"], []
        ro_url = None
    else:
        if not path.exists():
            folder = next((p for p in path.parents if p.exists()), None)
            if folder is None or not os.access(folder, os.W_OK | os.X_OK):
                return [f"{where}: cannot be created: {folder} is not writable"], []
            return [], [f"{where}: does not exist yet (`syncd run` or `syncd sync` creates it)"]
        try:
            size = path.stat().st_size
            with path.open("rb"):
                pass
        except OSError as exc:
            return [f"{where}: cannot read it ({exc.strerror or exc})"], []
        if size == 0:
            return [
                f"{where}: the file is empty (0 bytes): truncated or lost? restore a backup"
            ], []
        problems = []
        if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
            problems.append(f"{where}: not writable (permissions of {path} or its folder)")
        ro_url = f"sqlite:///file:{path}?mode=ro&uri=true"
        engine = sa.create_engine(ro_url, connect_args={"timeout": busy_timeout})
        if problems:
            engine.dispose()
            return problems, []
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("schema_version"):
                return [f"{where}: not a syncd database (no schema_version table)"], []
            version = conn.execute(sa.select(schema_version.c.version)).scalar() or 0
            if ro_url is not None:
                integrity = conn.exec_driver_sql("PRAGMA quick_check").scalar()
                if integrity != "ok":
                    return [f"{where}: the file is damaged ({integrity})"], []
    except sa.exc.SQLAlchemyError as exc:
        return [f"{where}: {reason_of(exc)}"], []
    finally:
        engine.dispose()
    if version > SCHEMA_VERSION:
        return [
            f"{where}: schema version {version} is newer than this syncd understands "
            f"({SCHEMA_VERSION}); upgrade syncd"
        ], []
    if version < SCHEMA_VERSION:
        return [], [f"{where}: schema version {version}; the next run upgrades it"]
    return [], []
