"""Alerts as signed JSON to a webhook, the Standard Webhooks scheme the webhook target
uses (``syncd.signing``): ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.
The id is derived from the message's content, so a re-send of one message carries
the same id and a receiver can dedupe on it."""

from __future__ import annotations

import hashlib
import json

import httpx

from .. import __version__
from ..config import AlertsConfig
from ..errors import AlertError, ConfigError
from ..signing import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signing_key
from .message import Message


class HookChannel:
    name = "webhook"

    def __init__(self, config: AlertsConfig) -> None:
        self.config = config

    def send(self, message: Message) -> None:
        c = self.config
        assert c.webhook_secret is not None  # config requires it with a webhook_url
        try:
            key = signing_key(c.webhook_secret.resolve())
        except ConfigError as exc:
            raise AlertError(self.name, f"alerts.webhook_secret: {exc.reason}") from exc
        doc = message.document()
        body = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
        data = json.dumps(doc["data"], ensure_ascii=False, sort_keys=True).encode()
        msg_id = "msg_" + hashlib.sha256(data).hexdigest()[:32]
        timestamp = int(message.at.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"syncd/{__version__}",
            ID_HEADER: msg_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(key, msg_id, timestamp, body),
        }
        seconds = c.timeout.total_seconds()
        try:
            with httpx.Client(timeout=seconds, follow_redirects=False, trust_env=False) as http:
                r = http.post(c.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise AlertError(self.name, f"{c.webhook_url}: {type(exc).__name__}: {exc}") from exc
        if not 200 <= r.status_code < 300:
            raise AlertError(self.name, f"{c.webhook_url}: HTTP {r.status_code}")
