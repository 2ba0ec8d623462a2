"""One alert check: judge, decide, send, record (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import health, logs
from ..errors import SyncdError
from ..status import missing_for, verdict
from .message import Channel, Message

if TYPE_CHECKING:
    from ..app import App
    from ..config import AlertsConfig

log = logs.get("syncd.alerts")


def channels(config: AlertsConfig) -> list[Channel]:
    out: list[Channel] = []
    if config.smtp_host:
        from .mail import MailChannel

        out.append(MailChannel(config))
    if config.webhook_url:
        from .hook import HookChannel

        out.append(HookChannel(config))
    return out


def check(app: App, sent: list[Channel] | None = None) -> Message | None:
    """One alert check (see the module docstring); the message sent, or None.
    ``sent``: the channels to use (default: the configured ones)."""
    cfg = app.config
    if not cfg.alerts.enabled and sent is None:
        return None
    now = app.clock()
    t = app.built_translator()
    v = verdict(cfg, app.store, now, None if t is None else missing_for(cfg, t))
    policy = health.AlertPolicy(cfg.alerts.min_interval, cfg.alerts.repeat_after)
    problems = [(p.key, p.kind, p.subject, p.message) for p in v.problems]
    intent = health.operator_alerts(app.store.operator_alerts(), problems, now, policy)
    if intent is None:
        return None
    message = None
    if intent.raised or intent.recovered:
        message = Message(intent.raised, intent.recovered, now)
        failed = False
        for channel in sent if sent is not None else channels(cfg.alerts):
            try:
                channel.send(message)
            except SyncdError as exc:  # AlertError, or a secret that cannot be read
                failed = True
                log.warning("alert-not-sent", channel=channel.name, error=str(exc))
        if failed:
            return None  # nothing recorded: the next check tries again
        log.info("alert-sent", raised=len(intent.raised), recovered=len(intent.recovered))
    app.store.apply_operator_alerts(intent, now)
    return message
