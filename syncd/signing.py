"""Standard Webhooks signing: key, signature and its check. Contains no business logic.

The scheme (https://www.standardwebhooks.com/) signs ``"{id}.{timestamp}.{body}"``
with HMAC-SHA256 and sends ``v1,<base64 digest>`` in ``webhook-signature``, beside
``webhook-id`` and ``webhook-timestamp`` (Unix seconds). A secret written
``whsec_<base64>`` (the scheme's format) is base64-decoded into the key; any other
secret is used as UTF-8 bytes.

Pure functions, no clock: callers pass the timestamp. The webhook target signs with
them and the inbound source checks with them. ``integrations/webhook/receiver.py``
keeps its own copy on purpose: it runs without syncd installed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret: base64 after ``whsec_``, else the secret's UTF-8 bytes."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: use it as it is
    return secret.encode("utf-8")


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256>``."""
    return "v1," + _digest(key, msg_id, timestamp, body)


def signature_matches(key: bytes, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """Whether any ``v1`` signature in a ``webhook-signature`` header (space-separated,
    as the scheme allows during key rotation) is the one ``key`` makes; constant time."""
    expected = _digest(key, msg_id, timestamp, body).encode()
    for part in header.split():
        version, _, value = part.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return True
    return False
