"""Contains no business logic.

Helpers the HTTP targets (``webhook``, ``wordpress``) share: the client a target
builds when none is injected, reading a secret as the target's auth error, and the
``credential_id`` hash.
"""

from __future__ import annotations

import functools
import hashlib
import ssl
import time

import httpx

from .. import __version__, logs
from ..config import Duration, Secret
from ..errors import ConfigError, TargetAuthError
from ..redact import redact_url

log = logs.get("syncd.http")


def _log_response(resp: httpx.Response) -> None:
    """Debug line of each target request: method, URL without credentials, status,
    ms (to the response headers), bytes as declared."""
    started = resp.request.extensions.get("syncd_started")
    ms = round((time.monotonic() - started) * 1000) if isinstance(started, float) else None
    log.debug("http", method=resp.request.method, url=redact_url(str(resp.request.url)),
              status=resp.status_code, ms=ms, bytes=resp.headers.get("content-length"),
              cache_hit=False)  # fmt: skip


def _stamp_request(request: httpx.Request) -> None:
    request.extensions["syncd_started"] = time.monotonic()


@functools.cache
def _tls() -> ssl.SSLContext:
    # one per process: building it (loading the CA bundle) takes ~50 ms, which a
    # network of 400 cities paid once per target, serially (bench/replicas.py)
    return httpx.create_ssl_context()


def own_client(timeout: Duration) -> httpx.Client:
    """An httpx client as every target builds one when none is injected (each request
    logged at debug level)."""
    seconds = timeout.total_seconds()
    return httpx.Client(
        timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)),
        headers={"User-Agent": f"syncd/{__version__}"},
        follow_redirects=False,
        trust_env=False,
        verify=_tls(),
        event_hooks={"request": [_stamp_request], "response": [_log_response]},
    )


def resolve(target_id: str, secret: Secret, what: str) -> str:
    """The secret's value; an unset variable or unreadable file is the target's auth error."""
    try:
        return secret.resolve()
    except ConfigError as exc:
        raise TargetAuthError(target_id, f"{what}: {exc}") from exc


def credential_hash(secret: Secret, *parts: str) -> str:
    """16 hex that change with ``parts`` and the secret's value, revealing neither."""
    try:
        value = secret.resolve()
    except ConfigError:
        value = f"unresolved {secret!r}"
    return hashlib.sha256("\x00".join((*parts, value)).encode()).hexdigest()[:16]
