"""Bounded downloads into a file: model packages and their index. Contains no
business logic.

Not ``PoliteClient``: a model package is hundreds of megabytes and goes to disk, not
into memory; and the URL is the operator's choice (a command, the configured index),
so the rules that guard polling of third-party sites (per-host spacing, robots.txt,
refusing private addresses) do not apply. What is shared is the net layer's promise:
a timeout on every request, a byte cap, a User-Agent naming syncd, and failures as
``NetError`` with the cause chained.
"""

from __future__ import annotations

from typing import BinaryIO

import httpx

from .. import __version__
from ..errors import NetError

MAX_REDIRECTS = 5
CHUNK = 1 << 20


def download(
    url: str,
    out: BinaryIO,
    *,
    timeout: float,
    max_bytes: int,
    who: str = "model installer",
) -> int:
    """GET ``url`` into ``out`` and return the number of bytes written.

    Redirects are followed (at most ``MAX_REDIRECTS``); proxy variables are honoured
    (an operator's network may need them). Raises ``NetError`` for any status but 200,
    a body over ``max_bytes`` (declared or streamed: at most ``max_bytes`` are
    written), network failures and timeouts.
    """
    headers = {"User-Agent": f"syncd/{__version__} ({who})"}
    client = httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers=headers,
    )
    try:
        with client, client.stream("GET", url) as resp:
            if resp.status_code != 200:
                raise NetError(who, url, f"HTTP {resp.status_code}")
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise NetError(who, url, f"{declared} bytes, more than the limit of {max_bytes}")
            got = 0
            for chunk in resp.iter_bytes(CHUNK):
                got += len(chunk)
                if got > max_bytes:
                    raise NetError(who, url, f"more than the limit of {max_bytes} bytes")
                out.write(chunk)
            return got
    except httpx.TimeoutException as exc:
        raise NetError(who, url, f"timed out ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise NetError(who, url, f"cannot be fetched: {exc}") from exc
