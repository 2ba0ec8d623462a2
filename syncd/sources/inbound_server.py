"""The HTTP endpoint of ``kind = "inbound"`` sources (Standard Webhooks).

``InboundServer`` (stdlib ``ThreadingHTTPServer`` in a thread) serves the endpoints
of the inbound sources that share one ``listen`` address. Each POST is checked, in
this order, and refused with a counted reason
(``queue.bump(source_id, "inbound-refused-<reason>")``):

==============  ======  =====================================================
reason          status  when
==============  ======  =====================================================
``too-large``   413     Content-Length over ``max_bytes`` (body never read),
                        or missing/chunked (411, reason ``no-length``)
``unsigned``    400     a ``webhook-id``/``-timestamp``/``-signature`` missing
``stale``       401     timestamp more than ``tolerance`` from the clock
``signature``   401     no ``v1`` signature matches HMAC-SHA256(key,
                        ``"{id}.{timestamp}.{body}"``)
``bad-json``    400     the (authentic) body is not a JSON object
``bad-schema``  422     not an item as ``parse_item`` describes
``replayed``    200     this ``webhook-id`` was accepted before (not queued
                        again; 2xx so an honest sender's retry stops)
==============  ======  =====================================================

Accepted messages are queued (``InboundQueue.accept_inbound``, which dedupes on the
message id) and answered 202; ``InboundSource`` (``sources/inbound.py``) reads the
queue. The signature is checked before the body is parsed: nothing unauthenticated
is interpreted.

The secret is a reference (``{ env = … }``), read once when the server starts; a
``whsec_``-prefixed value is base64-decoded into the key as the scheme says, any
other is used as it is (``syncd.signing``, shared with the webhook target).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
READ_TIMEOUT = 10.0  # seconds a client may take per read: no slow-loris holds a thread


def parse_listen(listen: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:8787"`` for IPv6) → (host, port); ValueError if not."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f'expected "host:port", got {listen!r}')
    return host.strip("[]"), int(port)


def endpoint_path(source: SourceConfig) -> str:
    """The URL path of an inbound source's endpoint."""
    options: Options = source.options
    return options.path or f"/inbound/{source.id}"


@dataclass(frozen=True)
class _Endpoint:
    source_id: str
    key: bytes
    max_bytes: int
    tolerance: timedelta


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
    if not stamp.isdigit() or len(stamp) > 12:
        raise Refused(401, "stale", "webhook-timestamp: expected integer seconds since the epoch")
    skew = abs(now - datetime.fromtimestamp(int(stamp), UTC))
    if skew > tolerance:
        raise Refused(401, "stale", f"timestamp is {int(skew.total_seconds())}s away from now")
    if signature_matches(key, msg_id, int(stamp), body, signatures):
        return msg_id
    raise Refused(401, "signature", "no valid v1 signature")


class InboundServer:
    """The HTTP endpoint(s) of inbound sources on one address."""

    def __init__(
        self,
        endpoints: Sequence[tuple[SourceConfig, CityConfig]],
        queue: InboundQueue,
        clock: Callable[[], datetime],
        host: str,
        port: int,
    ) -> None:
        self.queue = queue
        self.clock = clock
        self.routes: dict[str, _Endpoint] = {}
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
            self.routes[path] = _Endpoint(
                source.id, signing_key(secret), opts.max_bytes, opts.tolerance
            )
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"inbound:{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info("inbound-listening", port=self.port, paths=",".join(sorted(self.routes)))

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def handle(
        self, path: str, headers: Mapping[str, str], read: Callable[[int], bytes]
    ) -> tuple[int, dict[str, Any]]:
        """One POST: (status, JSON answer). Counts every refusal."""
        ep = self.routes.get(path.split("?", 1)[0])
        if ep is None:
            return 404, {"error": "no inbound endpoint here"}
        try:
            answer = self._accept(ep, headers, read)
        except Refused as exc:
            self.queue.bump(ep.source_id, f"inbound-refused-{exc.reason}")
            log.warning(
                "inbound-refused", source=ep.source_id, reason=exc.reason, detail=exc.detail
            )
            status = 200 if exc.reason == "replayed" else exc.status
            return status, {"accepted": False, "reason": exc.reason, "detail": exc.detail}
        self.queue.bump(ep.source_id, "inbound-accepted")
        return 202, answer

    def _accept(
        self, ep: _Endpoint, headers: Mapping[str, str], read: Callable[[int], bytes]
    ) -> dict[str, Any]:
        length = headers.get("content-length", "")
        if "chunked" in headers.get("transfer-encoding", "").lower() or not length.isdigit():
            raise Refused(411, "no-length", "a Content-Length is required")
        if int(length) > ep.max_bytes:
            raise Refused(
                413, "too-large", f"body of {length} bytes is over the cap of {ep.max_bytes}"
            )
        body = read(int(length))
        if len(body) != int(length):
            raise Refused(400, "no-length", "body shorter than its Content-Length")
        now = self.clock()
        msg_id = verify(ep.key, headers, body, now, ep.tolerance)
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


def _handler(server: InboundServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT
        server_version = "syncd-inbound"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            pass  # every outcome is logged by InboundServer.handle

        def _reply(self, status: int, answer: Mapping[str, Any]) -> None:
            body = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def do_POST(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, answer = server.handle(self.path, headers, self.rfile.read)
                self._reply(status, answer)
            except (TimeoutError, ConnectionError):
                self.close_connection = True

        def _not_allowed(self) -> None:
            self._reply(405, {"error": "only POST is accepted"})

        do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed

    return Handler


def servers_for(
    endpoints: Sequence[tuple[SourceConfig, CityConfig]],
    queue: InboundQueue,
    clock: Callable[[], datetime],
) -> list[InboundServer]:
    """One server per distinct ``listen`` address of the given inbound sources."""
    groups: dict[tuple[str, int], list[tuple[SourceConfig, CityConfig]]] = {}
    for source, city in endpoints:
        groups.setdefault(parse_listen(source.options.listen), []).append((source, city))
    servers: list[InboundServer] = []
    try:
        for (host, port), group in groups.items():
            servers.append(InboundServer(group, queue, clock, host, port))
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers
