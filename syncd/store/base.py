"""The store's engine, its one error boundary and shared helpers.

Every public store method is wrapped by ``wrap_exceptions(what)``: a database error
(a locked file, a full disk, a corrupt or unreadable file, a lost connection) becomes
one ``StoreError`` naming the store and what was being done, with the cause chained,
like lemon24/reader's ``wrap_exceptions``. Bugs (``TypeError``, a naive datetime) are
not database errors and stay loud.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ..errors import StoreError
from .schema import migrate, schema_version

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


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """Opens the database (creating it and applying migrations) and closes it."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], datetime] | None = None,
        busy_timeout: float = 10.0,
    ) -> None:
        """Open (creating and migrating) the store at ``url``. ``busy_timeout``: how
        many seconds a write waits for another writer before "locked"."""
        self.url = url
        self.display_url = display_url(url)
        self.clock = clock or _utcnow
        if url.startswith("sqlite:///") and ":memory:" not in url:
            try:
                Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"store {self.display_url}: cannot create its folder ({exc.strerror or exc})"
                ) from exc
        try:
            self.engine: Engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise StoreError(f"store {self.display_url}: unusable URL or driver ({exc})") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout))
        try:
            self._open()
        except BaseException:
            self.engine.dispose()
            raise

    @wrap_exceptions("opening the store")
    def _open(self) -> None:
        with self.engine.begin() as conn:
            migrate(conn, self.display_url)

    def close(self) -> None:
        self.engine.dispose()

    @wrap_exceptions("reading the schema version")
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(schema_version.c.version)).scalar_one())


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
