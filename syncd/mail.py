"""One SMTP connection, as the desk's digests and the operator's alerts both open it.
Contains no business logic.

``security``: ``"tls"`` (implicit TLS from the first byte, port 465), ``"starttls"``
(upgrade or refuse: ``SMTPNotSupportedError`` when the server cannot) or ``"none"``
(a local relay). A login happens only when ``user`` is given. Raises ``OSError`` and
``smtplib`` errors; callers map them to their own.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

Security = Literal["starttls", "tls", "none"]


@contextmanager
def smtp_connection(
    host: str,
    port: int,
    security: Security,
    *,
    user: str = "",
    password: str = "",
    timeout: float = 30.0,
) -> Iterator[smtplib.SMTP]:
    """An open, secured and (when ``user`` is given) logged-in SMTP connection."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if security == "tls":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        client.ehlo()
        if security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if user:
            client.login(user, password)
        yield client
