"""The polite, bounded HTTP client sources (and targets' image downloads) share.
Contains no business logic.

- every request has explicit timeouts, a total deadline (``http.deadline``: connect,
  headers and body together, however slowly a server drips) and a byte cap on the
  *decoded* body, counted as it is inflated (``inflate.py``: a gzip bomb costs at most
  ``max_bytes`` of memory; nested content codings are refused);
- ``stop`` (a ``threading.Event``) or ``close()`` ends every request in flight within
  ``netguard.SLICE`` seconds (``NetCancelled``) and refuses new ones;
- a User-Agent naming syncd, its version and the operator's contact URL;
- redirects are followed by hand, at most ``max_redirects``, each hop checked: a hop
  stays on the requested URL's host or a host ``allow_hosts`` accepts (robots.txt may
  redirect anywhere, RFC 9309 2.3.1.2);
- conditional GET with a stored ETag / Last-Modified: a 304 is "not modified";
- 429/503 with Retry-After become ``RetryAfter`` carrying the delay;
- requests to any address that is not public (``netguard.is_public_address``:
  loopback, private, carrier-grade NAT, link-local, reserved, …) are refused unless
  the config allows them (``http.allow_private``), so a hostile feed cannot make syncd
  probe the server's own network; the name is resolved once, at connect time, and the
  checked address is the one connected (no DNS rebinding);
- at least ``host_delay`` between two requests to one site (longer when the site's
  robots.txt asks for a ``Crawl-delay``, capped at ``MAX_CRAWL_DELAY``). A site is
  the host name with its port (``site_of``), never the address it resolves to: two
  sites that share an address (virtual hosting, a CDN) keep their own pace, and two
  servers on one address but different ports are two sites;
- ``robots_allows(url)`` answers from the host's robots.txt (cached a day), when
  ``http.respect_robots`` is on; page sources ask it before every request;
- no cookies are stored or sent;
- ``raise_for_status=False`` hands back 4xx/5xx answers (size-capped like any other)
  so a caller can tell a challenge or login page from a plain error.

Errors are mapped here, once, to ``NetError`` / ``RetryAfter`` / ``NetCancelled``
with the cause chained; URLs in their text have their user-info redacted. Callers map
those to their own errors (a source's ``FetchError``, a target's ``TargetError``);
``who`` (the first argument) names the caller in them.
"""

from __future__ import annotations

import email.utils
import errno
import http.cookiejar
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import httpx

from .. import __version__, logs
from ..config import HttpConfig
from ..errors import NetCancelled, NetError, NetOffline, RetryAfter
from ..redact import redact_text, redact_url
from . import inflate, netguard
from .robots import MAX_BYTES as ROBOTS_MAX_BYTES
from .robots import RobotsCache, RobotsUnavailable

log = logs.get("syncd.http")

MAX_RETRY_AFTER = timedelta(days=1)
MAX_CACHE_HINT = timedelta(days=365)
MAX_CRAWL_DELAY = 60.0
_MAX_AGE_RE = re.compile(r"max-age=([0-9]+)")
_SECONDS_RE = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Response:
    """A complete, size-checked answer."""

    url: str  # final URL after redirects
    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _seconds(digits: str, cap: timedelta) -> timedelta:
    # A header may carry any number of digits: compare before building a timedelta
    # (10**30 seconds overflows it; 5,000 digits are refused by int() itself).
    if len(digits) > 12:
        return cap
    return min(timedelta(seconds=int(digits)), cap)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Seconds or an HTTP date; None when absent or unreadable. Capped at a day."""
    if not value:
        return None
    value = value.strip()
    if _SECONDS_RE.fullmatch(value):
        delay = _seconds(value, MAX_RETRY_AFTER)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = when - now
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def cache_hint(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """The longer of Cache-Control max-age and Expires, as a floor for the next poll;
    at most ``MAX_CACHE_HINT`` whatever the server says."""
    hints: list[timedelta] = []
    m = _MAX_AGE_RE.search(headers.get("cache-control", ""))
    if m:
        hints.append(_seconds(m.group(1), MAX_CACHE_HINT))
    exp = headers.get("expires")
    if exp:
        try:
            when = email.utils.parsedate_to_datetime(exp)
        except (TypeError, ValueError, OverflowError):
            when = None
        if when is not None and when.tzinfo is not None and when > now:
            hints.append(min(when - now, MAX_CACHE_HINT))
    return max(hints) if hints else None


def user_agent(contact: str) -> str:
    return f"syncd/{__version__} (+{contact})"


def _raw_chunks(resp: httpx.Response) -> Iterator[bytes]:
    """The body as it came over the wire. A response an injected transport built
    from bytes (``httpx.MockTransport``) holds them already and cannot be streamed
    again; a response from the network is streamed."""
    if resp.is_stream_consumed and hasattr(resp, "_content"):
        yield resp.content
        return
    try:
        yield from resp.iter_raw()
    except httpx.StreamConsumed:
        yield resp.content


def site_of(url: str) -> str:
    """What politeness is kept per: the URL's host name, lower-case, with its port
    when that is not the scheme's default (``www.dueren.de``, ``127.0.0.1:8080``).
    http and https of one host are one site."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or port == {"http": 80, "https": 443}.get(parts.scheme.lower()):
        return host
    return f"{host}:{port}"


#: shown an unusable robots.txt answer: (status, headers, body, robots.txt URL)
RobotsWall = Callable[[int, Mapping[str, str], bytes, str], None]


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def _fail(source_id: str, url: str, message: str) -> NetError:
    return NetError(source_id, redact_url(url), redact_text(message))


#: errno / getaddrinfo codes that mean "syncd is offline", not "the server is down"
_OFFLINE_ERRNO = {errno.ENETUNREACH: "network unreachable", errno.ENETDOWN: "network down"}
_NAME_CODES = {socket.EAI_NONAME, socket.EAI_AGAIN, getattr(socket, "EAI_NODATA", -5)}


def network_failure(exc: BaseException) -> tuple[str, bool]:
    """What a failed connection means for a person, and whether syncd is offline:
    ("name not resolved …", True), ("network unreachable", True), else ("network
    error: …", False) for what the server's side did (refused, reset, …); read from
    the cause chain of an httpx error."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror) and seen.errno in _NAME_CODES:
            return "name not resolved (no DNS, or no such host)", True
        if isinstance(seen, OSError) and seen.errno in _OFFLINE_ERRNO:
            return _OFFLINE_ERRNO[seen.errno], True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "name not resolved (no DNS, or no such host)", True
    if "Network is unreachable" in text:
        return "network unreachable", True
    return f"network error: {text}", False


class PoliteClient:
    """Shared by all sources; thread-safe.

    ``transport`` is for tests (MockTransport; no address check, no socket deadline);
    ``resolver`` replaces the DNS lookup (tests; ``netguard.Resolver``); ``ssl_context``
    replaces the default certificate check (tests, a private CA); ``stop``, once set,
    ends every request in flight and refuses new ones (``NetCancelled``), as
    ``close()`` does."""

    def __init__(
        self,
        config: HttpConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] | None = None,
        stop: threading.Event | None = None,
        resolver: netguard.Resolver = netguard.resolve,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._stop = stop if stop is not None else threading.Event()
        self._closed = threading.Event()
        self._sleep = sleep if sleep is not None else self._pause
        if transport is None:
            backend = netguard.GuardedBackend(
                allow_private=config.allow_private, halted=self.halted, resolver=resolver
            )
            transport = netguard.transport(backend, ssl_context)
        timeout = config.timeout.total_seconds()
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            headers={
                "User-Agent": user_agent(config.contact),
                # Only what inflate.py decodes under the cap.
                "Accept-Encoding": inflate.ACCEPT_ENCODING,
            },
            transport=transport,
            trust_env=False,
            # No cookies kept: sources must not share state, and a challenge's cookie
            # is never sent back (syncd does not pass walls, see sources/page.py).
            cookies=http.cookiejar.CookieJar(
                policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
            ),
        )
        self._lock = threading.Lock()
        self._last_request: dict[str, float] = {}
        self._crawl_delay: dict[str, float] = {}
        self._robots = RobotsCache(self._fetch_robots, "syncd", clock)

    def close(self) -> None:
        """Ends requests in flight (``NetCancelled``) and releases the connections."""
        self._closed.set()
        self._client.close()

    def halted(self) -> bool:
        """Whether ``stop`` was set or ``close()`` called: no request runs any more."""
        return self._stop.is_set() or self._closed.is_set()

    def now(self) -> datetime:
        """The injected clock (UTC-aware), for sources that need the time."""
        return self._clock()

    def _pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not self.halted():
            self._stop.wait(min(left, netguard.SLICE))

    def _wait_for_host(self, site: str) -> float:
        """Sleeps until ``site`` (``site_of``: host and port, never the address) may
        be asked again; returns the seconds waited."""
        with self._lock:
            delay = max(self.config.host_delay.total_seconds(), self._crawl_delay.get(site, 0.0))
            if delay <= 0:
                return 0.0
            last = self._last_request.get(site)
            now = time.monotonic()
            wait = 0.0 if last is None else max(0.0, last + delay - now)
            self._last_request[site] = now + wait
        if wait:
            self._sleep(wait)
        return wait

    def robots_allows(self, source_id: str, url: str, *, wall: RobotsWall | None = None) -> bool:
        """Whether the host's robots.txt lets syncd fetch ``url`` (always, when
        ``http.respect_robots`` is off). Raises ``NetError`` while robots.txt itself
        cannot be had (network failure, 5xx), as RFC 9309 asks.

        ``wall`` is shown an unusable answer (``(status, headers, body, url)``) first:
        a site that answers every path with a challenge answers robots.txt with one
        too, and the caller may raise its own error for that (page sources raise the
        same alert as for a challenged page) instead of "robots.txt unavailable"."""
        if not self.config.respect_robots:
            return True
        self.check_url(source_id, url)
        try:
            rules = self._robots.rules(url)
        except RobotsUnavailable as exc:
            if wall is not None:
                wall(exc.status, exc.headers, exc.body, robots_url(url))
            raise _fail(
                source_id, url, f"robots.txt unavailable ({exc}); not fetching the site"
            ) from exc
        except (NetCancelled, NetOffline):
            raise  # syncd is stopping or offline: say so, not "robots.txt unavailable"
        except NetError as exc:
            raise _fail(source_id, url, f"robots.txt unavailable ({exc})") from exc
        if rules.crawl_delay:
            with self._lock:
                self._crawl_delay[site_of(url)] = min(rules.crawl_delay, MAX_CRAWL_DELAY)
        return rules.allowed(url)

    def _fetch_robots(self, robots_url: str) -> tuple[int, bytes]:
        resp = self.get(
            "robots.txt",
            robots_url,
            accept="text/plain",
            max_bytes=ROBOTS_MAX_BYTES,
            # RFC 9309 2.3.1.2: follow robots.txt redirects "even across authorities".
            allow_hosts=lambda _host: True,
            raise_for_status=False,
        )
        if resp.status >= 500:  # kept whole: it may be a challenge (see robots_allows)
            raise RobotsUnavailable(resp.status, resp.headers, resp.content)
        return resp.status, resp.content

    def check_url(self, source_id: str, url: str) -> None:
        """Refuses URLs that are not http(s) and literal addresses that are not public
        (unless ``http.allow_private``). Names are checked when they are resolved, at
        connect time, since a second lookup may answer differently."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _fail(source_id, url, "only http and https URLs are fetched")
        if self.config.allow_private:
            return
        try:
            ipaddress.ip_address(parts.hostname)
        except ValueError:
            return  # a name: see GuardedBackend
        if not netguard.is_public_address(parts.hostname):
            raise _fail(source_id, url, _refused(parts.hostname))

    def get(
        self,
        source_id: str,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
        max_bytes: int | None = None,
        allow_hosts: Callable[[str], bool] | None = None,
        method: str = "GET",
        data: Mapping[str, str] | None = None,
        raise_for_status: bool = True,
    ) -> Response:
        """Fetch ``url`` (following redirects); raise ``NetError`` for anything not
        2xx/304 unless ``raise_for_status`` is False (429/503 with Retry-After still
        raise ``RetryAfter``). A redirect may lead to ``url``'s own host or to a host
        ``allow_hosts`` accepts. The whole call, redirects included and polite waits
        excluded, must finish within ``http.deadline``. Raises ``NetCancelled`` once
        the client is stopped."""
        cap = max_bytes or self.config.max_bytes
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        home = (urlsplit(url).hostname or "").lower()
        current = url
        budget = netguard.Deadline.start(self.config.deadline.total_seconds())
        with netguard.deadline(budget):
            for hop in range(self.config.max_redirects + 1):
                self.check_url(source_id, current)
                host = (urlsplit(current).hostname or "").lower()
                if hop and host != home and not (allow_hosts is not None and allow_hosts(host)):
                    raise _fail(
                        source_id,
                        current,
                        f"redirect to a host that is not allowed ({host}): a source stays "
                        "on its own host or its allow_hosts (use the new address if it moved)",
                    )
                started = time.monotonic()
                try:
                    budget.extend(self._wait_for_host(site_of(current)))
                    if self.halted():
                        raise netguard.Cancelled()
                    started = time.monotonic()
                    with self._client.stream(method, current, headers=headers, data=data) as resp:
                        if resp.status_code in (301, 302, 303, 307, 308):
                            location = resp.headers.get("Location")
                            if not location:
                                raise _fail(
                                    source_id, current, f"HTTP {resp.status_code} without Location"
                                )
                            _logged(method, current, resp.status_code, started, 0, source_id)
                            current = urljoin(current, location)
                            if resp.status_code == 303:
                                method, data = "GET", None
                            continue
                        try:
                            done = self._finish(source_id, current, resp, cap, raise_for_status)
                        except NetError as exc:
                            _logged(method, current, resp.status_code, started, 0, source_id,
                                    error=exc.reason)  # fmt: skip
                            raise
                        _logged(method, current, done.status, started, len(done.content), source_id)
                        return done
                except netguard.Cancelled as exc:
                    raise self._cancelled(source_id, current) from exc
                except httpx.HTTPError as exc:
                    _logged(method, current, None, started, 0, source_id, error=type(exc).__name__)
                    if self.halted():  # close() shut the socket under the read
                        raise self._cancelled(source_id, current) from exc
                    if isinstance(exc, httpx.TimeoutException):
                        raise _fail(
                            source_id, current, f"timed out ({type(exc).__name__})"
                        ) from exc
                    reason, offline = network_failure(exc)
                    if offline:
                        raise NetOffline(source_id, redact_url(current), reason) from exc
                    raise _fail(source_id, current, reason) from exc
                except netguard.DeadlineExceeded as exc:
                    raise _fail(source_id, current, f"{exc} (http.deadline)") from exc
                except netguard.AddressRefused as exc:
                    raise _fail(source_id, current, _refused(exc.address, exc.host)) from exc
        raise _fail(source_id, url, f"more than {self.config.max_redirects} redirects")

    @staticmethod
    def _cancelled(source_id: str, url: str) -> NetCancelled:
        return NetCancelled(source_id, redact_url(url), "stopped before the answer was complete")

    def _finish(
        self,
        source_id: str,
        url: str,
        resp: httpx.Response,
        cap: int,
        raise_for_status: bool = True,
    ) -> Response:
        status = resp.status_code
        headers = {k.lower(): v for k, v in resp.headers.items()}
        if status == 304:
            return Response(url, status, headers, b"")
        if status in (429, 503):
            delay = parse_retry_after(headers.get("retry-after"), self._clock())
            if delay is not None:
                raise RetryAfter(
                    source_id,
                    redact_url(url),
                    f"HTTP {status}, Retry-After {int(delay.total_seconds())}s",
                    delay,
                )
            if raise_for_status:
                raise _fail(source_id, url, f"HTTP {status}")
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > cap:
            raise _fail(source_id, url, f"response too large: {declared} bytes > cap {cap}")
        try:
            decoder = inflate.Decoder(resp.headers.get_list("content-encoding", True), cap)
            chunks: list[bytes] = []
            for raw in _raw_chunks(resp):
                # Our backend checks at every read; this covers injected transports.
                netguard.check(self.halted)
                chunks.extend(decoder.feed(raw))
            chunks.extend(decoder.finish())
        except inflate.TooLarge as exc:
            raise _fail(
                source_id, url, f"response too large: more than cap {cap} bytes ({exc.encoding})"
            ) from exc
        except (inflate.Undecodable, inflate.Unsupported) as exc:
            raise _fail(source_id, url, f"content could not be decoded: {exc}") from exc
        body = b"".join(chunks)
        if raise_for_status and not 200 <= status < 300:
            raise _fail(source_id, url, f"HTTP {status}")
        return Response(url, status, headers, body)


def _logged(
    method: str, url: str, status: int | None, started: float, size: int, who: str,
    error: str | None = None,
) -> None:  # fmt: skip
    """The debug line of one request: method, URL without credentials, status, ms,
    bytes, and whether it was a cache hit (a 304 to a conditional GET)."""
    log.debug(
        "http", method=method, url=redact_url(url), status=status,
        ms=round((time.monotonic() - started) * 1000), bytes=size,
        cache_hit=status == 304, who=who, **({"error": error} if error else {}),
    )  # fmt: skip


def _refused(address: str, host: str = "") -> str:
    what = f"{host} resolves to {address}" if host and host != address else address
    return (
        f"refused: {what}, not a public address: loopback/private/reserved "
        "(set http.allow_private to allow)"
    )
