"""E-mail digests for editors: what waits in their city's desk.

The daemon calls ``send_due(app)`` every few minutes when ``[smtp] host`` is set.
Per editor with an e-mail address (pseudocode)::

    if last digest less than [desk] digest_every ago: skip
    new, changed = store.desk_news(city, since=last digest)
    if nothing new and nothing changed: skip          (no mail when nothing is new)
    send one mail in the editor's language, with links into the desk
    store.digest_sent(editor, now)

The password is a secret reference (``[smtp] password``), read when a mail goes out.
STARTTLS is required when ``starttls`` is set (a server that cannot is an error, never
a silent downgrade); ``tls`` speaks TLS from the first byte. A failure to send is
logged and tried again at the next call; it never stops the daemon.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from . import logs
from .errors import ConfigError
from .mail import Security, smtp_connection
from .web.desk import i18n

if TYPE_CHECKING:
    from .app import App
    from .config import Config
    from .store.editors import EditorRow

log = logs.get("syncd.digest")


@dataclass(frozen=True)
class Digest:
    editor: str
    to: str
    subject: str
    text: str


def desk_url(config: Config) -> str:
    """The desk's address for links: ``[desk] url``, else from ``[web] listen``."""
    if config.desk.url:
        return config.desk.url.rstrip("/")
    host = config.web.listen or "127.0.0.1:8080"
    return f"http://{host}{config.web.root_path.rstrip('/')}/desk"


def compose(config: Config, editor: EditorRow, new: int, changed: int) -> Digest | None:
    """The digest for one editor, in their language; None when nothing is new."""
    if not editor.email or (new == 0 and changed == 0):
        return None
    lang = i18n.language(editor.language)
    city = config.city(editor.city_id).name_in(lang)
    base = desk_url(config)
    lines = []
    if new:
        lines += [i18n.text(lang, "mail.new", n=new), f"  {base}/queue?status=new", ""]
    if changed:
        lines += [i18n.text(lang, "mail.changed", n=changed), f"  {base}/queue?status=changed", ""]
    lines += [i18n.text(lang, "mail.open"), f"  {base}/", ""]
    return Digest(
        editor.name,
        editor.email,
        i18n.text(lang, "mail.subject", n=new + changed, city=city),
        "\n".join(lines),
    )


def send(config: Config, digests: list[Digest]) -> None:
    """Send digests over one SMTP connection (raises ``OSError``/``smtplib`` errors)."""
    smtp = config.smtp
    password = smtp.password.resolve() if smtp.password is not None else ""
    security: Security = "tls" if smtp.tls else "starttls" if smtp.starttls else "none"
    with smtp_connection(
        smtp.host, smtp.port, security, user=smtp.username, password=password,
        timeout=smtp.timeout.total_seconds(),
    ) as client:  # fmt: skip
        for d in digests:
            msg = EmailMessage()
            msg["From"] = smtp.sender
            msg["To"] = d.to
            msg["Subject"] = d.subject
            msg["Date"] = formatdate(localtime=False)
            msg["Message-ID"] = make_msgid(domain="syncd")
            msg.set_content(d.text, charset="utf-8")
            client.send_message(msg)


def send_due(app: App) -> int:
    """Send every digest that is due (see the module docstring); how many were sent."""
    config, store, now = app.config, app.store, app.clock()
    if not config.smtp.host:
        return 0
    due: list[Digest] = []
    for editor in store.editors():
        if editor.last_digest_at and now - editor.last_digest_at < config.desk.digest_every:
            continue
        if editor.city_id not in {c.id for c in config.cities} or not editor.email:
            continue
        new, changed = store.desk_news(editor.city_id, editor.last_digest_at)
        d = compose(config, editor, new, changed)
        if d is not None:
            due.append(d)
    if not due:
        return 0
    try:
        send(config, due)
    except (OSError, smtplib.SMTPException, ConfigError) as exc:
        log.error("digest-failed", editors=len(due), error=f"{type(exc).__name__}: {exc}")
        return 0
    for d in due:
        store.digest_sent(d.editor, now)
        log.info("digest-sent", editor=d.editor)
    return len(due)
