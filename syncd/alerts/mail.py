"""Alerts by e-mail over SMTP (``smtplib``): STARTTLS, TLS or plain to a local relay,
with an optional login whose password is a secret reference."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..config import AlertsConfig
from ..errors import AlertError, ConfigError
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
            smtp: smtplib.SMTP
            if c.smtp_security == "tls":
                context = ssl.create_default_context()
                smtp = smtplib.SMTP_SSL(c.smtp_host, c.smtp_port, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=timeout)
            with smtp:
                if c.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if password is not None:
                    smtp.login(c.smtp_user, password)
                smtp.send_message(self._mail(message))
        except smtplib.SMTPAuthenticationError as exc:
            raise AlertError(self.name, f"{where} refused the login of {c.smtp_user}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise AlertError(self.name, f"{where}: {exc}") from exc
