"""``kind = "webhook"``: one signed JSON POST per draft version (Standard Webhooks).

Every version of a draft is sent once as ``POST <url>`` with the headers of the Standard
Webhooks scheme:

- ``webhook-id``: ``msg_`` + 32 hex of SHA-256 over marker, version and content hash.
  Deterministic, so every retry of one version (also after a crash and restart) carries
  the same id and the receiver can dedupe on it; a new version has a new id;
- ``webhook-timestamp``: Unix seconds of this attempt (receivers reject > 5 min skew);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``
  (``syncd.signing``). A secret written ``whsec_<base64>`` (the scheme's format) is
  base64-decoded into the key; any other secret is used as UTF-8 bytes.

A webhook is fire-and-forget: the receiver owns the editorial state, so the target is
not ``inspectable``. Its meaning of the ``Target`` contract:

- ``create``/``update`` POST the version (``type`` ``syncd.draft.created`` /
  ``syncd.draft.updated``); any 2xx is delivered. 401/403 → ``TargetAuthError`` (the
  receiver refused our signature: fix the secret); timeouts, network errors and every
  other status → ``TargetRetryable`` (Retry-After honoured);
- ``find`` returns ``None``: there is nothing to look up, and a re-send after a crash is
  safe because it reuses the webhook-id;
- ``inspect`` returns ``OURS``: whether an editor touched the item is the receiver's
  business (the receiver example in ``integrations/webhook/`` keeps editors' text and
  records later versions as "source updated after review").

``Remote.remote_id`` is the marker, ``fingerprint`` the webhook-id of the last version
delivered, ``url`` what the receiver answered as ``{"url": …}`` (optional).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import httpx

from .. import logs
from ..config import CityConfig, Duration, Secret
from ..errors import TargetAuthError, TargetRetryable
from ..models import Draft, Remote, RemoteStatus
from ..net.http import parse_retry_after
from ..sanitize import clean_html
from ..signing import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signing_key
from ._http import credential_hash, own_client, resolve

log = logs.get(__name__)

#: the part of a receiver's answer that is read (it only may carry {"url": …})
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Options:
    #: the receiver's URL (https in production)
    url: str
    #: the signing secret by reference; ``whsec_<base64>`` as Standard Webhooks issues it
    secret: Secret
    #: per-request timeout
    timeout: Duration = field(default_factory=lambda: Duration(seconds=30))


def webhook_id(draft: Draft) -> str:
    """Stable across retries of one version, different for every version."""
    raw = f"{draft.marker}\x00{draft.version}\x00{draft.content_hash}".encode()
    return "msg_" + hashlib.sha256(raw).hexdigest()[:32]


def document(draft: Draft, event: str, msg_id: str, now: datetime) -> dict[str, Any]:
    """The JSON document for one draft version (see docs/targets.md for every field)."""
    return {
        "type": event,
        "timestamp": now.isoformat(timespec="seconds"),
        "data": {
            "id": msg_id,
            "marker": draft.marker,
            "version": draft.version,
            "content_hash": draft.content_hash,
            "item": {
                "key": draft.source_key,
                "source_id": draft.source_id,
                "url": draft.source_url,
                "city": draft.source_city,
                "city_name": draft.source_city_name,
                "published": draft.published.isoformat() if draft.published else None,
                "categories": list(draft.categories),
                "images": [asdict(i) for i in draft.images],
            },
            "target_city": draft.target_city,
            "languages": {"source": draft.source_language, "target": draft.target_language},
            "original": {
                "title": draft.original_title,
                "summary": draft.original_summary,
                "body_html": clean_html(draft.original_body_html),
            },
            "translation": {
                "title": draft.title,
                "summary": draft.summary,
                "body_html": clean_html(draft.body_html),
                "attribution_html": clean_html(draft.attribution_html),
            },
            "pivot": dict(draft.pivot) if draft.pivot else None,
            "quality_flags": [asdict(f) for f in draft.flags],
            "packages": list(draft.packages),
        },
    }


class WebhookTarget:
    inspectable = False

    def __init__(
        self, city: CityConfig, http: httpx.Client | None, clock: Callable[[], datetime]
    ) -> None:
        self.id = city.id
        self.opts: Options = city.target.options
        self.clock = clock
        self._owned = http is None
        self.http = http if http is not None else own_client(self.opts.timeout)

    def close(self) -> None:
        if self._owned:
            self.http.close()

    def _secret(self) -> str:
        return resolve(self.id, self.opts.secret, "webhook secret")

    @property
    def credential_id(self) -> str:
        """Changes when the URL or the secret changes; never reveals the secret."""
        return credential_hash(self.opts.secret, self.opts.url)

    def _post(self, draft: Draft, event: str) -> Remote:
        msg_id = webhook_id(draft)
        now = self.clock()
        body = json.dumps(document(draft, event, msg_id, now), ensure_ascii=False).encode()
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            ID_HEADER: msg_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(signing_key(self._secret()), msg_id, timestamp, body),
        }
        try:
            with self.http.stream("POST", self.opts.url, content=body, headers=headers) as resp:
                answer = _read_capped(resp)
        except httpx.TimeoutException as exc:
            raise TargetRetryable(self.id, f"webhook {msg_id}: timed out") from exc
        except httpx.HTTPError as exc:
            raise TargetRetryable(self.id, f"webhook {msg_id}: network error: {exc}") from exc
        status = resp.status_code
        if status in (401, 403):
            raise TargetAuthError(self.id, f"webhook {msg_id}: HTTP {status} (signature refused?)")
        if not 200 <= status < 300:
            delay = parse_retry_after(resp.headers.get("retry-after"), now)
            raise TargetRetryable(self.id, f"webhook {msg_id}: HTTP {status}", delay)
        log.info(
            "webhook-delivered",
            id=msg_id,
            marker=draft.marker,
            version=draft.version,
            status=status,
        )
        return Remote(remote_id=draft.marker, fingerprint=msg_id, url=_answer_url(answer))

    def create(self, draft: Draft) -> Remote:
        return self._post(draft, "syncd.draft.created")

    def find(self, draft: Draft) -> Remote | None:
        return None  # re-sending is safe: the webhook-id is the same

    def inspect(self, remote: Remote) -> RemoteStatus:
        return RemoteStatus.OURS  # the receiver owns editorial state

    def update(self, remote: Remote, draft: Draft) -> Remote:
        return self._post(draft, "syncd.draft.updated")


def _read_capped(resp: httpx.Response) -> bytes:
    chunks, size = [], 0
    for chunk in resp.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_ANSWER:
            break
    return b"".join(chunks)[:MAX_ANSWER]


def _answer_url(answer: bytes) -> str | None:
    try:
        url = json.loads(answer).get("url")
    except (ValueError, AttributeError):
        return None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def make(
    city: CityConfig, http: httpx.Client | None, clock: Callable[[], datetime]
) -> WebhookTarget:
    return WebhookTarget(city, http, clock)
