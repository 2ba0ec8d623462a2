"""Contains no business logic.

Helpers the HTTP targets (``webhook``, ``wordpress``) share: the client a target
builds when none is injected, reading a secret as the target's auth error, and the
``credential_id`` hash.
"""

from __future__ import annotations

import functools
import hashlib
import ssl

import httpx

from .. import __version__
from ..config import Duration, Secret
from ..errors import ConfigError, TargetAuthError


@functools.cache
def _tls() -> ssl.SSLContext:
    # one per process: building it (loading the CA bundle) takes ~50 ms, which a
    # network of 400 cities paid once per target, serially (bench/replicas.py)
    return httpx.create_ssl_context()


def own_client(timeout: Duration) -> httpx.Client:
    """An httpx client as every target builds one when none is injected."""
    seconds = timeout.total_seconds()
    return httpx.Client(
        timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)),
        headers={"User-Agent": f"syncd/{__version__}"},
        follow_redirects=False,
        trust_env=False,
        verify=_tls(),
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
