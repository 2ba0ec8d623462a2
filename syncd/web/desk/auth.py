"""Signing in to the desk: sessions, their cookies, CSRF tokens, login throttling.

- A session is a random 256-bit id. The store keeps only its SHA-256 (with the
  editor, the CSRF token, the language and when it expires); the browser gets the id
  in a cookie signed with itsdangerous (a key made once and kept in the store), so a
  forged or altered cookie is refused before the store is asked. The cookie is
  ``HttpOnly``, ``SameSite=Strict``, ``Secure`` when the request came over HTTPS (at
  the proxy), limited to the desk's path, and lives no longer than the session;
  expiry is checked on the server against syncd's clock, whatever the browser keeps.
- Every POST form carries the session's CSRF token (compared in constant time); the
  sign-in form, which has no session yet, carries a token that must match a
  short-lived cookie set with the form (double submit).
- Failed sign-ins are counted per editor name and per client address within a window;
  past the limit the form is refused before any password is checked (HTTP 429).
  Counts live in the daemon's memory: one process serves the desk.

Contains no business logic beyond these rules.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer

from ...store import Store
from ...store.editors import EditorRow, SessionRow

SESSION_COOKIE = "syncd_desk"
LOGIN_COOKIE = "syncd_desk_login"
LOGIN_COOKIE_AGE = 3600


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens (False for empty ones)."""
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


class Sessions:
    """Starts, finds and ends editors' sessions (see the module docstring)."""

    def __init__(self, store: Store, clock: Callable[[], datetime], lifetime: timedelta) -> None:
        self.store = store
        self.clock = clock
        self.lifetime = lifetime
        key = store.desk_secret("session-key", lambda: secrets.token_urlsafe(32))
        self._signer = Signer(key, salt="syncd-desk-session")
        self._login_signer = Signer(key, salt="syncd-desk-login")

    def start(self, editor: EditorRow, language: str) -> tuple[str, SessionRow]:
        """A new session for ``editor``: (the signed cookie value, the session)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        row = SessionRow(
            id_hash=_hash(session_id),
            editor=editor.name,
            csrf=secrets.token_urlsafe(32),
            language=language,
            created_at=now,
            expires_at=now + self.lifetime,
        )
        self.store.start_session(row, editor.city_id)
        return self._signer.sign(session_id).decode("ascii"), row

    def find(self, cookie: str | None) -> tuple[SessionRow, EditorRow] | None:
        """The live session and its editor for a cookie value; None when the cookie
        is missing, forged, expired or its editor was removed."""
        if not cookie:
            return None
        try:
            session_id = self._signer.unsign(cookie).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None
        row = self.store.session(_hash(session_id), self.clock())
        if row is None:
            return None
        editor = self.store.editor(row.editor)
        return None if editor is None else (row, editor)

    def end(self, session: SessionRow, editor: EditorRow) -> None:
        self.store.end_session(session.id_hash, editor.city_id, editor.name, self.clock())

    def login_token(self) -> tuple[str, str]:
        """(cookie value, form value) for the sign-in form's double-submit token."""
        token = secrets.token_urlsafe(24)
        return self._login_signer.sign(token).decode("ascii"), token

    def login_token_ok(self, cookie: str | None, form_value: str) -> bool:
        if not cookie:
            return False
        try:
            token = self._login_signer.unsign(cookie).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return False
        return same(token, form_value)


class Throttle:
    """Failed sign-ins per key (``account:<name>``, ``address:<ip>``) within a window."""

    def __init__(self, clock: Callable[[], datetime], window: timedelta) -> None:
        self.clock = clock
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, key: str, limit: int) -> timedelta | None:
        """How long until ``key`` may try again, or None when it may now."""
        now = self.clock()
        with self._lock:
            q = self._recent(key, now)
            if len(q) < limit:
                if not q:
                    self._failures.pop(key, None)  # forget quiet keys: memory stays bounded
                return None
            return q[0] + self.window - now

    #: keys kept at most; past it, keys without a failure in the window are dropped
    MAX_KEYS = 10_000

    def fail(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= self.MAX_KEYS:
                for k in [k for k, q in self._failures.items() if q[-1] <= now - self.window]:
                    del self._failures[k]
            self._recent(key, now).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
