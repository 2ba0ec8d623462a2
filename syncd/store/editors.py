"""Store domain: the desk's editors, their sessions and the audit log.

Passwords arrive here already hashed (``syncd.passwords``) and sessions by the
SHA-256 of their id: the store never holds a password or a usable session id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .base import wrap_exceptions
from .schema import audit_t, desk_secrets_t, editors_t, sessions_t


@dataclass(frozen=True)
class EditorRow:
    """An editor of one city; ``language`` is the desk's language for them."""

    name: str
    city_id: str
    language: str
    email: str | None
    password_hash: str
    created_at: datetime
    password_changed_at: datetime
    last_digest_at: datetime | None = None


@dataclass(frozen=True)
class SessionRow:
    """A signed-in editor's session (``csrf``: the token every form must carry)."""

    id_hash: str
    editor: str
    csrf: str
    language: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    city_id: str
    editor: str
    action: str
    item_id: int | None
    version: int | None
    detail: str


def _editor(r: sa.Row) -> EditorRow:  # type: ignore[type-arg]
    m = r._mapping
    return EditorRow(**{k: m[k] for k in EditorRow.__dataclass_fields__})


def add_audit(
    conn: Connection,
    now: datetime,
    city_id: str,
    editor: str,
    action: str,
    *,
    item_id: int | None = None,
    version: int | None = None,
    detail: str = "",
) -> None:
    """One audit entry, inside the caller's transaction (an action and its entry are
    recorded together or not at all)."""
    conn.execute(
        audit_t.insert().values(
            at=now,
            city_id=city_id,
            editor=editor,
            action=action,
            item_id=item_id,
            version=version,
            detail=detail,
        )
    )


class EditorsMixin:
    engine: Engine

    # -- editors

    @wrap_exceptions("adding an editor")
    def add_editor(
        self,
        name: str,
        city_id: str,
        language: str,
        email: str | None,
        password_hash: str,
        now: datetime,
    ) -> bool:
        """Add an editor; False when the name is taken."""
        with self.engine.begin() as conn:
            taken = conn.execute(
                sa.select(editors_t.c.name).where(editors_t.c.name == name)
            ).first()
            if taken is not None:
                return False
            conn.execute(
                editors_t.insert().values(
                    name=name,
                    city_id=city_id,
                    language=language,
                    email=email,
                    password_hash=password_hash,
                    created_at=now,
                    password_changed_at=now,
                )
            )
            add_audit(conn, now, city_id, name, "editor-added", detail=language)
            return True

    @wrap_exceptions("reading an editor")
    def editor(self, name: str) -> EditorRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(editors_t).where(editors_t.c.name == name)).first()
        return None if r is None else _editor(r)

    @wrap_exceptions("listing editors")
    def editors(self, city_id: str | None = None) -> list[EditorRow]:
        q = sa.select(editors_t).order_by(editors_t.c.city_id, editors_t.c.name)
        if city_id is not None:
            q = q.where(editors_t.c.city_id == city_id)
        with self.engine.connect() as conn:
            return [_editor(r) for r in conn.execute(q)]

    @wrap_exceptions("removing an editor")
    def remove_editor(self, name: str, now: datetime) -> bool:
        """Remove an editor and end their sessions; False when there is none."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(editors_t).where(editors_t.c.name == name)).first()
            if row is None:
                return False
            conn.execute(sessions_t.delete().where(sessions_t.c.editor == name))
            conn.execute(editors_t.delete().where(editors_t.c.name == name))
            add_audit(conn, now, row.city_id, name, "editor-removed")
            return True

    @wrap_exceptions("changing a password")
    def set_password(self, name: str, password_hash: str, now: datetime) -> bool:
        """New password hash; every session of the editor ends. False: no editor."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(editors_t).where(editors_t.c.name == name)).first()
            if row is None:
                return False
            conn.execute(
                editors_t.update()
                .where(editors_t.c.name == name)
                .values(password_hash=password_hash, password_changed_at=now)
            )
            conn.execute(sessions_t.delete().where(sessions_t.c.editor == name))
            add_audit(conn, now, row.city_id, name, "password-changed")
            return True

    @wrap_exceptions("recording a digest")
    def digest_sent(self, name: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                editors_t.update().where(editors_t.c.name == name).values(last_digest_at=now)
            )

    @wrap_exceptions("reading the desk's signing key")
    def desk_secret(self, name: str, make: Callable[[], str]) -> str:
        """The desk's secret ``name``, made by ``make`` and kept on first use (so
        sessions survive a restart)."""
        with self.engine.begin() as conn:
            q = sa.select(desk_secrets_t.c.value).where(desk_secrets_t.c.name == name)
            value = conn.execute(q).scalar()
            if value is None:
                value = make()
                conn.execute(desk_secrets_t.insert().values(name=name, value=value))
            return str(value)

    # -- sessions

    @wrap_exceptions("starting a session")
    def start_session(self, session: SessionRow, city_id: str) -> None:
        with self.engine.begin() as conn:
            # expired sessions of anyone go when a new one starts: the table stays small
            conn.execute(sessions_t.delete().where(sessions_t.c.expires_at <= session.created_at))
            conn.execute(sessions_t.insert().values(**session.__dict__))
            add_audit(conn, session.created_at, city_id, session.editor, "login")

    @wrap_exceptions("reading a session")
    def session(self, id_hash: str, now: datetime) -> SessionRow | None:
        """The live session with this id hash; None when unknown or expired."""
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(sessions_t).where(
                    sessions_t.c.id_hash == id_hash, sessions_t.c.expires_at > now
                )
            ).first()
        if r is None:
            return None
        m = r._mapping
        return SessionRow(**{k: m[k] for k in SessionRow.__dataclass_fields__})

    @wrap_exceptions("changing a session's language")
    def set_session_language(self, id_hash: str, language: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sessions_t.update().where(sessions_t.c.id_hash == id_hash).values(language=language)
            )

    @wrap_exceptions("ending a session")
    def end_session(self, id_hash: str, city_id: str, editor: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions_t.delete().where(sessions_t.c.id_hash == id_hash))
            add_audit(conn, now, city_id, editor, "logout")

    # -- audit

    @wrap_exceptions("recording an action")
    def audit(
        self,
        now: datetime,
        city_id: str,
        editor: str,
        action: str,
        *,
        item_id: int | None = None,
        version: int | None = None,
        detail: str = "",
    ) -> None:
        with self.engine.begin() as conn:
            add_audit(
                conn, now, city_id, editor, action, item_id=item_id, version=version, detail=detail
            )

    @wrap_exceptions("reading the audit log")
    def audit_log(
        self, city_id: str, *, limit: int = 50, offset: int = 0, item_id: int | None = None
    ) -> tuple[Sequence[AuditRow], int]:
        """A city's audit entries, newest first, and how many there are in all."""
        where = [audit_t.c.city_id == city_id]
        if item_id is not None:
            where.append(audit_t.c.item_id == item_id)
        q = (
            sa.select(audit_t)
            .where(*where)
            .order_by(audit_t.c.at.desc(), audit_t.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            rows = [AuditRow(**r._mapping) for r in conn.execute(q)]
            total = conn.execute(sa.select(sa.func.count()).select_from(audit_t).where(*where))
            return rows, int(total.scalar_one())
