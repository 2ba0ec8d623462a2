"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives. Contains no
business logic."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """``messages``: every mail received; ``user``/``password``: the one login it takes."""

    def __init__(self, user: str = "syncd", password: str = "smtp-secret") -> None:
        self.inbox = _Inbox()
        self.port = _free_port()
        self.user, self.password = user, password

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                         auth_data: Any) -> AuthResult:  # fmt: skip
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(),
                auth_data.password.decode(),
            ) == (self.user, self.password)
            return AuthResult(success=ok)

        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, authenticator=authenticate,
            auth_require_tls=False,
        )  # fmt: skip
        self.controller.start()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages

    @property
    def handler(self) -> _Inbox:
        return self.inbox

    def bodies(self) -> list[str]:
        return [m.get_content() for m in self.messages]

    def stop(self) -> None:
        self.controller.stop()


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """A server for the length of a ``with`` block (it also takes unauthenticated mail)."""
    s = SmtpServer()
    try:
        yield s
    finally:
        s.stop()
