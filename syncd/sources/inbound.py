"""``kind = "inbound"``: the partner pushes items to syncd (Standard Webhooks).

For a portal syncd cannot reach from abroad, the partner's side POSTs each signed
item to an endpoint on the daemon's web front door (``[web] listen``; the checks are
in ``sources/inbound_server.py``: signature, limits, refusals). Accepted messages wait in a queue (``InboundQueue``: the store
satisfies it). The source's ``fetch`` turns the queue into items for the usual
pipeline (``sources/inbound_schema.py``); ``acknowledge`` marks them consumed once
recorded, so a crash in between loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from ..config import CityConfig, Duration, Secret, SourceConfig
from ..models import Item
from . import FetchResult, SourceState
from .inbound_schema import parse_item, to_item

if TYPE_CHECKING:
    from ..net.http import PoliteClient  # not used: pushed items need no client

__all__ = [
    "InboundQueue",
    "InboundSource",
    "Options",
    "check_options",
    "make",
]


class InboundQueue(Protocol):
    """The queue of pushed messages between the server and the source (the ``Store``).

    Methods raise ``syncd.errors.StoreError`` when the queue cannot be reached;
    datetimes are UTC-aware.
    """

    def accept_inbound(self, source_id: str, message_id: str, payload: str, now: datetime) -> bool:
        """Queue a message once; False when this message id was accepted before."""

    def pending_inbound(self, source_id: str) -> Sequence[tuple[str, str]]:
        """``(message id, payload)`` of the unconsumed messages, oldest first."""

    def consume_inbound(self, source_id: str, message_ids: Sequence[str]) -> None:
        """Mark messages consumed: they are not pending again."""

    def bump(self, scope: str, name: str) -> None:
        """Count one event (``inbound-accepted``, ``inbound-refused-<reason>``)."""


@dataclass(frozen=True)
class Options:
    #: the signing secret by reference; ``whsec_<base64>`` as Standard Webhooks issues it
    secret: Secret
    #: no longer used: inbound sources are served on the web front door
    #: (``[web] listen``); a value here is refused with that advice
    listen: str = ""
    #: URL path of this source's endpoint; empty → /inbound/<source id>
    path: str = ""
    #: largest accepted request body in bytes
    max_bytes: int = 1024 * 1024
    #: largest accepted difference between webhook-timestamp and syncd's clock
    tolerance: Duration = field(default_factory=lambda: Duration(minutes=5))
    #: how long a sender may take to send its body (408 after it)
    read_timeout: Duration = field(default_factory=lambda: Duration(seconds=10))


def check_options(source: SourceConfig, options: Options) -> tuple[str, str] | None:
    if options.listen:
        # refused, not taken as an alias: the front door also serves the editors'
        # desk, and an address opened for a partner's pushes must not silently
        # start serving it; one place says where syncd listens
        return "listen", (
            "inbound sources are served on the web front door now: remove this key "
            f'and set [web] listen = "{options.listen}" (same URL paths as before)'
        )
    if options.path and (not options.path.startswith("/") or "?" in options.path):
        return "path", "expected a URL path like /inbound/jinhua (no query)"
    if options.max_bytes < 1024:
        return "max_bytes", "expected at least 1024"
    if not timedelta(seconds=1) <= options.read_timeout <= timedelta(minutes=5):
        return "read_timeout", "expected between 1s and 5m"
    if not timedelta(seconds=1) <= options.tolerance <= timedelta(hours=1):
        return "tolerance", "expected between 1s and 1h (Standard Webhooks uses 5m)"
    return None


class InboundSource:
    """Turns the queued pushes of one source into items."""

    def __init__(self, source: SourceConfig, city: CityConfig, queue: InboundQueue) -> None:
        self.id = source.id
        self.tz = city.tz
        self.queue = queue
        self._handed: tuple[int, list[str]] | None = (
            None  # (id of the last result, its message ids)
        )

    def fetch(self, state: SourceState) -> FetchResult:
        items: dict[str, Item] = {}
        ids: list[str] = []
        errors: list[str] = []
        for msg_id, payload in self.queue.pending_inbound(self.id):
            ids.append(msg_id)
            try:
                item = to_item(self.id, parse_item(json.loads(payload)), self.tz)
            except ValueError as exc:  # SchemaError, JSONDecodeError: a stored row gone bad
                errors.append(f"message {msg_id}: {exc}")
                continue
            items.pop(item.key, None)
            items[item.key] = item  # a later push of the same key wins
        result = FetchResult(items=tuple(items.values()), entry_errors=tuple(errors))
        self._handed = (id(result), ids)
        return result

    def acknowledge(self, result: FetchResult) -> None:
        """Consume the messages behind ``result`` (unparseable ones too: they would
        fail again on every poll; their errors were reported with the result)."""
        if self._handed is not None and self._handed[0] == id(result) and self._handed[1]:
            self.queue.consume_inbound(self.id, self._handed[1])
        self._handed = None

    def close(self) -> None:
        self._handed = None


def make(
    source: SourceConfig, city: CityConfig, http: PoliteClient, *, store: InboundQueue
) -> InboundSource:
    """The source; ``store`` is any ``InboundQueue`` (the keyword app.py passes)."""
    return InboundSource(source, city, store)
