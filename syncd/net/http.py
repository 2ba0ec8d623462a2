"""The polite, bounded HTTP client sources (and targets' image downloads) share.
Contains no business logic.

- every request has explicit timeouts and a byte cap (the body is streamed and cut
  off past ``max_bytes``: a 50 MiB answer costs at most ``max_bytes`` of memory);
- a User-Agent naming syncd, its version and the operator's contact URL;
- redirects are followed by hand, at most ``max_redirects``, each hop checked;
- conditional GET with a stored ETag / Last-Modified: a 304 is "not modified";
- 429/503 with Retry-After become ``RetryAfter`` carrying the delay;
- requests to loopback, private, link-local or reserved addresses are refused unless
  the config allows them (``http.allow_private``), so a hostile feed cannot make
  syncd probe the server's own network;
- at least ``host_delay`` between two requests to one host (longer when the host's
  robots.txt asks for a ``Crawl-delay``, capped at ``MAX_CRAWL_DELAY``);
- ``robots_allows(url)`` answers from the host's robots.txt (cached a day), when
  ``http.respect_robots`` is on; page sources ask it before every request;
- no cookies are stored or sent;
- ``raise_for_status=False`` hands back 4xx/5xx answers (size-capped like any other)
  so a caller can tell a challenge or login page from a plain error.

Errors are mapped here, once, to ``NetError`` / ``RetryAfter`` with the cause chained;
callers map those to their own errors (a source's ``FetchError``, a target's
``TargetError``). ``who`` (the first argument) names the caller in them.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import httpx

from .. import __version__
from ..config import HttpConfig
from ..errors import NetError, RetryAfter
from .robots import MAX_BYTES as ROBOTS_MAX_BYTES
from .robots import RobotsCache, RobotsUnavailable

MAX_RETRY_AFTER = timedelta(days=1)
MAX_CRAWL_DELAY = 60.0
_MAX_AGE_RE = re.compile(r"max-age=(\d+)")


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


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Seconds or an HTTP date; None when absent or unreadable. Capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = when - now
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def cache_hint(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """The longer of Cache-Control max-age and Expires, as a floor for the next poll."""
    hints: list[timedelta] = []
    m = _MAX_AGE_RE.search(headers.get("cache-control", ""))
    if m:
        hints.append(timedelta(seconds=int(m.group(1))))
    exp = headers.get("expires")
    if exp:
        try:
            when = email.utils.parsedate_to_datetime(exp)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None and when > now:
            hints.append(when - now)
    return max(hints) if hints else None


def user_agent(contact: str) -> str:
    return f"syncd/{__version__} (+{contact})"


def _is_public(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return True  # let the real request fail with a clear DNS error
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if (
            addr.is_private
            or addr.is_loopback
            or addr.is_link_local
            or addr.is_reserved
            or addr.is_multicast
            or addr.is_unspecified
        ):
            return False
    return True


class PoliteClient:
    """Shared by all sources; thread-safe. ``transport`` is for tests (MockTransport)."""

    def __init__(
        self,
        config: HttpConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._clock = clock
        self._sleep = sleep
        timeout = config.timeout.total_seconds()
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            headers={"User-Agent": user_agent(config.contact)},
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
        self._client.close()

    def now(self) -> datetime:
        """The injected clock (UTC-aware), for sources that need the time."""
        return self._clock()

    def _wait_for_host(self, host: str) -> None:
        with self._lock:
            delay = max(self.config.host_delay.total_seconds(), self._crawl_delay.get(host, 0.0))
            if delay <= 0:
                return
            last = self._last_request.get(host)
            now = time.monotonic()
            wait = 0.0 if last is None else max(0.0, last + delay - now)
            self._last_request[host] = now + wait
        if wait:
            self._sleep(wait)

    def robots_allows(self, source_id: str, url: str) -> bool:
        """Whether the host's robots.txt lets syncd fetch ``url`` (always, when
        ``http.respect_robots`` is off). Raises ``NetError`` while robots.txt itself
        cannot be had (network failure, 5xx), as RFC 9309 asks."""
        if not self.config.respect_robots:
            return True
        self.check_url(source_id, url)
        try:
            rules = self._robots.rules(url)
        except RobotsUnavailable as exc:
            raise NetError(
                source_id, url, f"robots.txt unavailable ({exc}); not fetching the site"
            ) from exc
        except NetError as exc:
            raise NetError(source_id, url, f"robots.txt unavailable ({exc})") from exc
        if rules.crawl_delay:
            host = urlsplit(url).hostname or ""
            with self._lock:
                self._crawl_delay[host] = min(rules.crawl_delay, MAX_CRAWL_DELAY)
        return rules.allowed(url)

    def _fetch_robots(self, robots_url: str) -> tuple[int, bytes]:
        resp = self.get(
            "robots.txt",
            robots_url,
            accept="text/plain",
            max_bytes=ROBOTS_MAX_BYTES,
            raise_for_status=False,
        )
        return resp.status, resp.content

    def check_url(self, source_id: str, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NetError(source_id, url, "only http and https URLs are fetched")
        if not self.config.allow_private and not _is_public(parts.hostname):
            raise NetError(
                source_id,
                url,
                "refused: the address is loopback/private (set http.allow_private to allow)",
            )

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
        raise ``RetryAfter``)."""
        cap = max_bytes or self.config.max_bytes
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for _hop in range(self.config.max_redirects + 1):
            self.check_url(source_id, current)
            host = urlsplit(current).hostname or ""
            if allow_hosts is not None and current != url and not allow_hosts(host):
                raise NetError(source_id, current, "redirect to a host that is not allowed")
            self._wait_for_host(host)
            try:
                with self._client.stream(method, current, headers=headers, data=data) as resp:
                    if resp.status_code in (301, 302, 303, 307, 308):
                        location = resp.headers.get("Location")
                        if not location:
                            raise NetError(
                                source_id, current, f"HTTP {resp.status_code} without Location"
                            )
                        current = urljoin(current, location)
                        if resp.status_code == 303:
                            method, data = "GET", None
                        continue
                    return self._finish(source_id, current, resp, cap, raise_for_status)
            except httpx.TimeoutException as exc:
                raise NetError(source_id, current, f"timed out ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                raise NetError(source_id, current, f"network error: {exc}") from exc
        raise NetError(source_id, url, f"more than {self.config.max_redirects} redirects")

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
                    url,
                    f"HTTP {status}, Retry-After {int(delay.total_seconds())}s",
                    delay,
                )
            if raise_for_status:
                raise NetError(source_id, url, f"HTTP {status}")
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise NetError(source_id, url, f"response too large: {declared} bytes > cap {cap}")
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise NetError(source_id, url, f"response too large: more than cap {cap} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        if raise_for_status and not 200 <= status < 300:
            raise NetError(source_id, url, f"HTTP {status}")
        return Response(url, status, headers, body)
