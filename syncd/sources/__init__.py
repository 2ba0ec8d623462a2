"""Where news comes from: one module per source kind behind the ``Source`` protocol.

A kind module (``feed``, ``html``, ``jpage``, ``inbound``) provides ``Options``, a
frozen dataclass of the kind's own config keys (validated by ``syncd.config`` from its
annotations; defaults make keys optional), and a way to make its ``Source``; its entry
in ``syncd.kinds.TABLE`` says what it needs and how it is made.

Only ``syncd.net``, this package and ``syncd.targets`` touch httpx. The net layer's
errors become this source's at its boundary (``net_errors``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from ..errors import (
    FetchCancelled,
    FetchError,
    FetchOffline,
    NetCancelled,
    NetError,
    NetOffline,
    RetryAfter,
    RetryLater,
)
from ..models import FetchResult, SourceState

__all__ = ["FetchResult", "Source", "SourceState", "net_errors"]


@contextmanager
def net_errors(source_id: str) -> Iterator[None]:
    """Requests made inside fail as the source's errors: ``RetryAfter`` becomes
    ``RetryLater`` (with its delay), any other ``NetError`` a ``FetchError``; the
    net layer's error is chained as the cause."""
    try:
        yield
    except RetryAfter as exc:
        raise RetryLater(source_id, exc.url, exc.reason, exc.delay) from exc
    except NetCancelled as exc:
        raise FetchCancelled(source_id, exc.url, exc.reason) from exc
    except NetOffline as exc:
        raise FetchOffline(source_id, exc.url, exc.reason) from exc
    except NetError as exc:
        raise FetchError(source_id, exc.url, exc.reason) from exc


class Source(Protocol):
    """A news source of one city.

    ``fetch`` returns a ``FetchResult`` or raises a ``syncd.errors.SourceError``
    subclass (``FetchError``, ``RetryLater``, ``ParseError``, ``SourceAlert``). Any
    other exception is a bug. Items carry UTC-aware datetimes and sanitized HTML.
    """

    id: str

    def fetch(self, state: SourceState) -> FetchResult: ...

    def acknowledge(self, result: FetchResult) -> None:
        """Called once the result's items are recorded in the store (pushed sources
        mark their queued messages consumed here, so a crash before it loses nothing)."""

    def close(self) -> None: ...
