"""Alerts to the operator: one message when something needs a person, one when it
recovers; deduplicated, rate-limited, never a secret in it.

``check(app)``, run by the daemon every minute and at the end of ``syncd sync``::

    problems = status.verdict(...)               the same judgement as `syncd status`
    intent   = decide.operator_alerts(told, problems, now, policy)
    if intent announces anything: send ONE message on every configured channel
        (a channel that fails: logged, nothing recorded, the next check tries again)
    store.apply_operator_alerts(intent)          what the operator now knows

Channels (``Channel``): e-mail over SMTP (``mail``) and a webhook signed like the
webhook target (``hook``). A message carries the problems' messages (what
``syncd status`` prints, with URLs' credentials removed) and nothing of the config.
"""

from __future__ import annotations

from .check import channels, check
from .message import Channel, Message

__all__ = ["Channel", "Message", "channels", "check"]
