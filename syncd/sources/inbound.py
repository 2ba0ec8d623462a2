"""``kind = "inbound"``: the partner pushes items to syncd (Standard Webhooks).

For a portal syncd cannot reach from abroad, the partner's side POSTs each item to
an endpoint in the daemon. ``InboundServer`` (stdlib ``ThreadingHTTPServer`` in a
thread) checks, in this order, and refuses with a counted reason
(``store.bump(source_id, "inbound-refused-<reason>")``):

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

Accepted messages are queued in the store (``accept_inbound``, which dedupes on the
message id) and answered 202. The source's ``fetch`` turns the queue into items for
the usual pipeline; ``acknowledge`` marks them consumed once recorded, so a crash in
between loses nothing. The signature is checked before the body is parsed: nothing
unauthenticated is interpreted.

The secret is a reference (``{ env = … }``), read once when the server starts; a
``whsec_``-prefixed value is base64-decoded into the key as the scheme says, any
other is used as it is (``syncd.signing``, shared with the webhook target).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

from .. import logs
from ..config import CityConfig, Duration, Secret, SourceConfig
from ..decide import echo_evidence
from ..errors import ConfigError
from ..models import Image, Item
from ..sanitize import clean_html, to_text
from ..signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_matches,
    signing_key,
)
from ..store import Store
from . import FetchResult, SourceState
from .decode import strip_controls, to_utc
from .http import PoliteClient

log = logs.get("syncd.sources.inbound")

#: app.py passes ``store=`` to ``make`` for kinds that say so.
NEEDS_STORE = True
MAX_TITLE = 1000
MAX_KEY = 1000
MAX_ID = 256
MAX_LIST = 50
READ_TIMEOUT = 10.0  # seconds a client may take per read: no slow-loris holds a thread


@dataclass(frozen=True)
class Options:
    #: the signing secret by reference; ``whsec_<base64>`` as Standard Webhooks issues it
    secret: Secret
    #: address the endpoint listens on, "host:port" (sources sharing one share a server)
    listen: str = "127.0.0.1:8787"
    #: URL path of this source's endpoint; empty → /inbound/<source id>
    path: str = ""
    #: largest accepted request body in bytes
    max_bytes: int = 1024 * 1024
    #: largest accepted difference between webhook-timestamp and syncd's clock
    tolerance: Duration = field(default_factory=lambda: Duration(minutes=5))


def parse_listen(listen: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:8787"`` for IPv6) → (host, port); ValueError if not."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f'expected "host:port", got {listen!r}')
    return host.strip("[]"), int(port)


def endpoint_path(source: SourceConfig) -> str:
    options: Options = source.options
    return options.path or f"/inbound/{source.id}"


def check_options(source: SourceConfig, options: Options) -> tuple[str, str] | None:
    try:
        parse_listen(options.listen)
    except ValueError as exc:
        return "listen", str(exc)
    if options.path and (not options.path.startswith("/") or "?" in options.path):
        return "path", "expected a URL path like /inbound/jinhua (no query)"
    if options.max_bytes < 1024:
        return "max_bytes", "expected at least 1024"
    if not timedelta(seconds=1) <= options.tolerance <= timedelta(hours=1):
        return "tolerance", "expected between 1s and 1h (Standard Webhooks uses 5m)"
    return None


# ------------------------------------------------------------------------------ schema


class SchemaError(ValueError):
    """A pushed document is not an item (internal; becomes a 422 with this text)."""


_FIELDS = {"key", "title", "url", "summary", "body_html", "published", "images", "categories"}


def _str(
    doc: Mapping[str, Any], name: str, limit: int | None = None, required: bool = False
) -> str:
    value = doc.get(name)
    if value is None:
        if required:
            raise SchemaError(f"{name}: missing")
        return ""
    if not isinstance(value, str):
        raise SchemaError(f"{name}: expected a string")
    if limit is not None and len(value) > limit:
        raise SchemaError(f"{name}: longer than {limit} characters")
    return value


def parse_item(doc: Any) -> dict[str, Any]:
    """Validate a pushed item; returns it normalized (raises ``SchemaError``).

    The document is the item itself, or a Standard Webhooks envelope
    ``{"type": …, "timestamp": …, "data": {item}}``. Keys: ``key`` (required, the
    item's stable id at the partner), ``title`` (required), ``url``, ``summary``,
    ``body_html``, ``published`` (ISO 8601; without offset: the city's local time),
    ``images`` (``[{"url", "mime", "title"}]``), ``categories`` (strings). Unknown keys
    are refused, so a misspelt ``body`` is not silently an empty body.
    """
    if isinstance(doc, dict) and "type" in doc and isinstance(doc.get("data"), dict):
        doc = doc["data"]
    if not isinstance(doc, dict):
        raise SchemaError("expected a JSON object")
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise SchemaError(f"unknown key {unknown[0]!r}; expected: {', '.join(sorted(_FIELDS))}")
    key = _str(doc, "key", MAX_KEY, required=True).strip()
    if not key:
        raise SchemaError("key: empty")
    out: dict[str, Any] = {
        "key": key,
        "title": _str(doc, "title", MAX_TITLE, required=True),
        "summary": _str(doc, "summary"),
        "body_html": _str(doc, "body_html"),
    }
    url = _str(doc, "url", 2000)
    if url and not url.startswith(("http://", "https://")):
        raise SchemaError("url: expected an http(s) URL")
    out["url"] = url or None
    published = _str(doc, "published", 64)
    if published:
        try:
            datetime.fromisoformat(published.replace("Z", "+00:00"))
        except ValueError:
            raise SchemaError("published: expected an ISO 8601 date-time") from None
    out["published"] = published or None
    images = doc.get("images") or []
    if not isinstance(images, list) or len(images) > MAX_LIST:
        raise SchemaError(f"images: expected a list of at most {MAX_LIST} objects")
    out["images"] = []
    for i, img in enumerate(images):
        if not isinstance(img, dict) or not isinstance(img.get("url"), str):
            raise SchemaError(f"images[{i}]: expected an object with a url")
        if not img["url"].startswith(("http://", "https://")):
            raise SchemaError(f"images[{i}].url: expected an http(s) URL")
        out["images"].append({k: _str(img, k, 2000) or None for k in ("url", "mime", "title")})
    cats = doc.get("categories") or []
    if (
        not isinstance(cats, list)
        or len(cats) > MAX_LIST
        or not all(isinstance(c, str) for c in cats)
    ):
        raise SchemaError(f"categories: expected a list of at most {MAX_LIST} strings")
    out["categories"] = [c[:200] for c in cats]
    if not out["title"].strip() and not out["body_html"].strip():
        raise SchemaError("title and body_html are both empty")
    return out


def to_item(source_id: str, doc: Mapping[str, Any], tz: ZoneInfo) -> Item:
    """An ``Item`` from a validated document (sanitized, dates in UTC)."""
    published = None
    if doc.get("published"):
        dt = datetime.fromisoformat(str(doc["published"]).replace("Z", "+00:00"))
        published = to_utc(dt, tz)  # None when UTC cannot hold it (year 1, 9999)
    raw = strip_controls(doc.get("body_html") or "")
    body = clean_html(raw)
    if body and not body.lstrip().startswith("<"):
        body = f"<p>{body}</p>"
    return Item(
        source_id=source_id,
        key=doc["key"],
        url=doc.get("url"),
        title=to_text(strip_controls(doc["title"]))[:MAX_TITLE],
        summary=to_text(doc.get("summary") or ""),
        body_html=body,
        published=published,
        images=tuple(
            Image(url=i["url"], mime=i.get("mime"), title=i.get("title"))
            for i in doc.get("images", [])
        ),
        categories=tuple(c for c in (to_text(c) for c in doc.get("categories", [])) if c),
        echo_marker=echo_evidence(raw, doc.get("url"), doc["key"]),
    )


# ------------------------------------------------------------------------------ server


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
        store: Store,
        clock: Callable[[], datetime],
        host: str,
        port: int,
    ) -> None:
        self.store = store
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
            self.store.bump(ep.source_id, f"inbound-refused-{exc.reason}")
            log.warning(
                "inbound-refused", source=ep.source_id, reason=exc.reason, detail=exc.detail
            )
            status = 200 if exc.reason == "replayed" else exc.status
            return status, {"accepted": False, "reason": exc.reason, "detail": exc.detail}
        self.store.bump(ep.source_id, "inbound-accepted")
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
        if not self.store.accept_inbound(ep.source_id, msg_id, payload, now):
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
    store: Store,
    clock: Callable[[], datetime],
) -> list[InboundServer]:
    """One server per distinct ``listen`` address of the given inbound sources."""
    groups: dict[tuple[str, int], list[tuple[SourceConfig, CityConfig]]] = {}
    for source, city in endpoints:
        groups.setdefault(parse_listen(source.options.listen), []).append((source, city))
    servers: list[InboundServer] = []
    try:
        for (host, port), group in groups.items():
            servers.append(InboundServer(group, store, clock, host, port))
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers


# ------------------------------------------------------------------------------ source


class InboundSource:
    """Turns the queued pushes of one source into items."""

    def __init__(self, source: SourceConfig, city: CityConfig, store: Store) -> None:
        self.id = source.id
        self.tz = city.tz
        self.store = store
        self._handed: tuple[int, list[str]] | None = (
            None  # (id of the last result, its message ids)
        )

    def fetch(self, state: SourceState) -> FetchResult:
        items: dict[str, Item] = {}
        ids: list[str] = []
        errors: list[str] = []
        for msg_id, payload in self.store.pending_inbound(self.id):
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
            self.store.consume_inbound(self.id, self._handed[1])
        self._handed = None

    def close(self) -> None:
        self._handed = None


def make(
    source: SourceConfig, city: CityConfig, http: PoliteClient, *, store: Store
) -> InboundSource:
    return InboundSource(source, city, store)
