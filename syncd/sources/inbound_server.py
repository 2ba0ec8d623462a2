"""The endpoint logic of ``kind = "inbound"`` sources (Standard Webhooks).

``InboundEndpoints`` holds the endpoints of the enabled inbound sources, by URL path;
the daemon's web front door serves them (``syncd.web.inbound``), on ``[web] listen``
with everything else: one listener, one process. Each POST is checked, in this
order, and every refusal is answered and counted
(``queue.bump(source_id, "inbound-refused-<reason>")``):

==============  ======  =====================================================
reason          status  when
==============  ======  =====================================================
``too-large``   413     Content-Length over ``max_bytes`` (body never read),
                        or missing/chunked (411, reason ``no-length``)
``no-length``   400     a body shorter than its Content-Length
``timeout``     408     the body did not arrive within ``read_timeout``
``unsigned``    400     a ``webhook-id``/``-timestamp``/``-signature`` missing
``stale``       401     timestamp not 1 to 10 ASCII digits, or more than
                        ``tolerance`` from the clock
``signature``   401     no ``v1`` signature matches HMAC-SHA256(key,
                        ``"{id}.{timestamp}.{body}"``)
``bad-json``    400     the (authentic) body is not a JSON object, or nests
                        deeper than ``MAX_DEPTH``
``bad-schema``  422     not an item as ``parse_item`` describes
``replayed``    200     this ``webhook-id`` was accepted before (not queued
                        again; 2xx so an honest sender's retry stops)
==============  ======  =====================================================

Accepted messages are queued (``InboundQueue.accept_inbound``, which dedupes on the
message id) and answered 202; ``InboundSource`` (``sources/inbound.py``) reads the
queue. The signature is checked before the body is parsed: nothing unauthenticated
is interpreted, and nothing in the headers is converted before it is known to be
small (a 12-digit or non-ASCII-digit timestamp used to raise before the check, and a
signed, deeply nested body used to exhaust the JSON parser's recursion).

The secret is a reference (``{ env = … }``), read once when the endpoints are made; a
``whsec_``-prefixed value is base64-decoded into the key as the scheme says, any
other is used as it is (``syncd.signing``, shared with the webhook target).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .. import logs
from ..config import CityConfig, SourceConfig
from ..errors import ConfigError
from ..signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_matches,
    signing_key,
)
from .inbound_schema import SchemaError, parse_item

if TYPE_CHECKING:
    from .inbound import InboundQueue, Options

# the kind's logger: its events keep the name they have always been logged under
log = logs.get("syncd.sources.inbound")

MAX_ID = 256
#: Unix seconds have 10 digits until the year 2286
MAX_STAMP_DIGITS = 10
#: deepest nesting of arrays and objects a pushed body may have (an item needs 3)
MAX_DEPTH = 32


def endpoint_path(source: SourceConfig) -> str:
    """The URL path of an inbound source's endpoint."""
    options: Options = source.options
    return options.path or f"/inbound/{source.id}"


@dataclass(frozen=True)
class Endpoint:
    source_id: str
    key: bytes
    max_bytes: int
    tolerance: timedelta
    read_timeout: float  # seconds


class Refused(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        self.status = status
        self.reason = reason
        self.detail = detail
        super().__init__(detail)


def verify(
    key: bytes, headers: Mapping[str, str], body: bytes, now: datetime, tolerance: timedelta
) -> str:
    """Check a Standard Webhooks signature; the message id, or ``Refused``."""
    msg_id = headers.get(ID_HEADER, "")
    stamp = headers.get(TIMESTAMP_HEADER, "")
    signatures = headers.get(SIGNATURE_HEADER, "")
    if not (msg_id and stamp and signatures):
        raise Refused(
            400, "unsigned", "webhook-id, webhook-timestamp and webhook-signature are required"
        )
    if len(msg_id) > MAX_ID or not msg_id.isascii() or not msg_id.isprintable():
        raise Refused(400, "unsigned", f"webhook-id: at most {MAX_ID} printable ASCII characters")
    # ASCII digits only: str.isdigit() also takes "²" and "١٢٣", which int() refuses or
    # reads; and at most 10, so no conversion to a date can overflow
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_STAMP_DIGITS):
        raise Refused(401, "stale", "webhook-timestamp: expected integer seconds since the epoch")
    skew = abs(int(now.timestamp()) - int(stamp))
    if skew > tolerance.total_seconds():
        raise Refused(401, "stale", f"timestamp is {skew}s away from now")
    if signature_matches(key, msg_id, int(stamp), body, signatures):
        return msg_id
    raise Refused(401, "signature", "no valid v1 signature")


def nesting_ok(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests arrays and objects at most ``limit`` deep (one linear
    pass that skips strings; the parser is only asked once this holds)."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True


class InboundEndpoints:
    """The endpoints of inbound sources by URL path (served on the front door)."""

    def __init__(
        self,
        endpoints: Sequence[tuple[SourceConfig, CityConfig]],
        queue: InboundQueue,
        clock: Callable[[], datetime],
    ) -> None:
        self.queue = queue
        self.clock = clock
        self.routes: dict[str, Endpoint] = {}
        for source, _city in endpoints:
            opts: Options = source.options
            path = endpoint_path(source)
            if path in self.routes:
                raise ConfigError(
                    "",
                    f"{source.id}.path",
                    f"{path} is already the endpoint of {self.routes[path].source_id}",
                )
            secret = opts.secret.resolve()
            if not secret:
                raise ConfigError(opts.secret.where, "", "the inbound secret is empty")
            self.routes[path] = Endpoint(
                source.id,
                signing_key(secret),
                opts.max_bytes,
                opts.tolerance,
                opts.read_timeout.total_seconds(),
            )

    def refuse(self, ep: Endpoint, exc: Refused) -> tuple[int, dict[str, Any]]:
        """Count and log a refusal; the status and JSON answer to send."""
        self.queue.bump(ep.source_id, f"inbound-refused-{exc.reason}")
        log.warning("inbound-refused", source=ep.source_id, reason=exc.reason, detail=exc.detail)
        status = 200 if exc.reason == "replayed" else exc.status
        return status, {"accepted": False, "reason": exc.reason, "detail": exc.detail}

    @staticmethod
    def expected_length(ep: Endpoint, headers: Mapping[str, str]) -> int:
        """The body's declared length, or ``Refused`` (checked before reading it)."""
        length = headers.get("content-length", "")
        if "chunked" in headers.get("transfer-encoding", "").lower() or not (
            length.isascii() and length.isdigit()
        ):
            raise Refused(411, "no-length", "a Content-Length is required")
        if len(length) > 12 or int(length) > ep.max_bytes:
            raise Refused(
                413, "too-large", f"body of {length} bytes is over the cap of {ep.max_bytes}"
            )
        return int(length)

    def accept(
        self, ep: Endpoint, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """A whole body that arrived: verify, parse, queue. (status, JSON answer);
        every refusal counted."""
        try:
            answer = self._accept(ep, headers, body)
        except Refused as exc:
            return self.refuse(ep, exc)
        self.queue.bump(ep.source_id, "inbound-accepted")
        return 202, answer

    def _accept(self, ep: Endpoint, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        now = self.clock()
        msg_id = verify(ep.key, headers, body, now, ep.tolerance)
        if not nesting_ok(body):
            raise Refused(400, "bad-json", f"not JSON: nested deeper than {MAX_DEPTH}")
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Refused(400, "bad-json", f"not JSON: {exc}") from exc
        try:
            item = parse_item(doc)
        except SchemaError as exc:
            raise Refused(422, "bad-schema", str(exc)) from exc
        payload = json.dumps(item, ensure_ascii=False, sort_keys=True)
        if not self.queue.accept_inbound(ep.source_id, msg_id, payload, now):
            raise Refused(200, "replayed", f"message {msg_id} was accepted before")
        log.info("inbound-accepted", source=ep.source_id, message=msg_id, item_key=item["key"])
        return {"accepted": True, "id": msg_id, "key": item["key"]}


def servers_for(
    endpoints: Sequence[tuple[SourceConfig, CityConfig]],
    queue: InboundQueue,
    clock: Callable[[], datetime],
) -> list[Any]:
    """No listener of its own: inbound sources are served on the web front door
    (``syncd.web.inbound``). Checks their endpoints now (a missing secret, a path
    used twice raise ``ConfigError``), so the daemon refuses to start with them."""
    InboundEndpoints(endpoints, queue, clock)
    return []
