"""Alerts by e-mail over SMTP (``smtplib``): STARTTLS, TLS or plain to a local relay,
with an optional login whose password is a secret reference."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..config import AlertsConfig
from ..errors import AlertError, ConfigError
from ..mail import smtp_connection
from .message import Message


class MailChannel:
    name = "e-mail"

    def __init__(self, config: AlertsConfig) -> None:
        self.config = config

    def _mail(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.config.mail_from
        mail["To"] = ", ".join(self.config.mail_to)
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(message.at.timestamp(), usegmt=True)
        mail["Message-ID"] = make_msgid("syncd")
        mail.set_content(message.text())
        return mail

    def send(self, message: Message) -> None:
        c = self.config
        timeout = c.timeout.total_seconds()
        where = f"{c.smtp_host}:{c.smtp_port}"
        try:
            password = c.smtp_password.resolve() if c.smtp_password and c.smtp_user else None
        except ConfigError as exc:
            raise AlertError(self.name, f"alerts.smtp_password: {exc.reason}") from exc
        try:
            with smtp_connection(
                c.smtp_host, c.smtp_port, c.smtp_security,
                user=c.smtp_user if password is not None else "", password=password or "",
                timeout=timeout,
            ) as smtp:  # fmt: skip
                smtp.send_message(self._mail(message))
        except smtplib.SMTPAuthenticationError as exc:
            raise AlertError(self.name, f"{where} refused the login of {c.smtp_user}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise AlertError(self.name, f"{where}: {exc}") from exc
