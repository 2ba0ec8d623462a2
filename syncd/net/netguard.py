"""Sockets for the polite client: the address check at connect time, one DNS lookup per
connection, and blocking calls that honour a deadline and a stop signal. Contains no
business logic.

Why the check is here (issue 9): a check that resolves a name and a connect that
resolves it again can be given two answers (DNS rebinding). ``GuardedBackend`` resolves
once, refuses unless *every* answer is a public address (``is_public_address``), and
connects to an address it checked; TLS still verifies the certificate for the name.

Why every blocking call is sliced: a socket timeout is per call, so a server dripping one
byte every few seconds is never abandoned. Connect, TLS handshake, read and write each
wait at most ``SLICE`` seconds at a time, then look at the request's ``Deadline``
(set with ``deadline(...)`` around a request, per thread) and at the halt signal, so a
request ends at its deadline and within ``SLICE`` of a stop.

Raises ``AddressRefused``, ``DeadlineExceeded`` and ``Cancelled`` (plain exceptions:
httpx passes them through unchanged, and the client maps them to ``FetchError``), and
httpcore's own connect/read/write errors and timeouts for everything else.
"""

from __future__ import annotations

import contextvars
import errno
import ipaddress
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

SLICE = 0.2
Resolver = Callable[[str, int], Sequence[str]]
Halted = Callable[[], bool]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPAT = ipaddress.IPv6Network("::/96")


class AddressRefused(Exception):
    """The host resolves to an address that is not public (internal)."""

    def __init__(self, host: str, address: str) -> None:
        self.host = host
        self.address = address
        super().__init__(f"{host} is {address}, not a public address")


class DeadlineExceeded(Exception):
    """The request's total deadline passed (internal)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"no complete answer within {seconds:g}s")


class Cancelled(Exception):
    """The client was stopped while the request ran (internal)."""


def is_public_address(text: str) -> bool:
    """Whether ``text`` (an IP address) is globally reachable, so fetching it cannot probe
    the server's own networks. Refuses every range ``ipaddress`` does not call global
    (private, loopback, link-local, carrier-grade NAT 100.64.0.0/10 with its metadata
    addresses, documentation, benchmarking, reserved), multicast, site-local, and IPv6
    forms that carry an IPv4 address (mapped, 6to4, NAT64) unless that one is public."""
    addr = ipaddress.ip_address(text)
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(str(embedded))
        if addr in _NAT64_LOCAL or addr in _IPV4_COMPAT or addr.is_site_local:
            return False
    return addr.is_global and not addr.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order (one lookup)."""
    out: list[str] = []
    for family, _type, _proto, _canon, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in out:
            out.append(str(sockaddr[0]))
    return out


@dataclass
class Deadline:
    """When the current request must be complete (``time.monotonic()`` seconds)."""

    at: float
    seconds: float

    @classmethod
    def start(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    def extend(self, seconds: float) -> None:
        """Moves the deadline by time spent on purpose (a polite wait between hops)."""
        self.at += seconds


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "syncd_http_deadline", default=None
)


@contextmanager
def deadline(d: Deadline) -> Iterator[Deadline]:
    """Applies ``d`` to every socket call made in this thread until the block ends."""
    token = _current.set(d)
    try:
        yield d
    finally:
        _current.reset(token)


def check(halted: Halted) -> None:
    """Raises ``Cancelled`` once halted, ``DeadlineExceeded`` once the deadline passed."""
    _slice(halted, None, httpcore.ReadTimeout)


def _end(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _slice(halted: Halted, end: float | None, timeout_exc: type[Exception]) -> float:
    """How long the next blocking call may wait; raises when it may not wait at all."""
    if halted():
        raise Cancelled()
    now = time.monotonic()
    wait = SLICE
    if end is not None:
        if now >= end:
            raise timeout_exc("timed out")
        wait = min(wait, end - now)
    d = _current.get()
    if d is not None:
        if now >= d.at:
            raise DeadlineExceeded(d.seconds)
        wait = min(wait, d.at - now)
    return wait


class GuardedStream(httpcore.NetworkStream):
    """A connected socket whose every call is sliced (see the module docstring)."""

    def __init__(self, sock: socket.socket, halted: Halted) -> None:
        self._sock = sock
        self._halted = halted

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        end = _end(timeout)
        while True:
            self._sock.settimeout(_slice(self._halted, end, httpcore.ReadTimeout))
            try:
                return self._sock.recv(max_bytes)
            except TimeoutError:
                continue
            except OSError as exc:
                raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        end = _end(timeout)
        while buffer:
            self._sock.settimeout(_slice(self._halted, end, httpcore.WriteTimeout))
            try:
                sent = self._sock.send(buffer)
            except TimeoutError:
                continue
            except OSError as exc:
                raise httpcore.WriteError(str(exc)) from exc
            buffer = buffer[sent:]

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        end = _end(timeout)
        try:
            tls = ssl_context.wrap_socket(
                self._sock, server_hostname=server_hostname, do_handshake_on_connect=False
            )
        except BaseException:
            self._sock.close()
            raise
        try:
            while True:
                tls.settimeout(_slice(self._halted, end, httpcore.ConnectTimeout))
                try:
                    tls.do_handshake()
                    break
                except TimeoutError:
                    continue  # the handshake resumes where it stopped
        except OSError as exc:  # ssl.SSLError included: certificate, protocol
            tls.close()
            raise httpcore.ConnectError(str(exc)) from exc
        except BaseException:
            tls.close()
            raise
        return GuardedStream(tls, self._halted)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock  # has selected_alpn_protocol(), all httpcore asks of it
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            # An idle pooled connection that turned readable was closed by the server.
            if self._sock.fileno() < 0:
                return True
            with selectors.DefaultSelector() as sel:
                sel.register(self._sock, selectors.EVENT_READ)
                return bool(sel.select(0))
        return None


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend for the polite client: one lookup with ``resolver``,
    every answer checked unless ``allow_private``, the checked address connected."""

    def __init__(self, *, allow_private: bool, halted: Halted, resolver: Resolver = resolve):
        self._allow_private = allow_private
        self._halted = halted
        self._resolve = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        end = _end(timeout)
        _slice(self._halted, end, httpcore.ConnectTimeout)
        try:
            addresses = list(self._resolve(host, port))
        except OSError as exc:
            raise httpcore.ConnectError(f"{host}: lookup failed: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host}: lookup found no address")
        if not self._allow_private:
            for address in addresses:
                if not is_public_address(address):
                    raise AddressRefused(host, address)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                sock = self._connect(address, port, end, local_address, socket_options or ())
            except httpcore.ConnectError as exc:
                failure = exc  # try the next address, as socket.create_connection does
                continue
            return GuardedStream(sock, self._halted)
        assert failure is not None
        raise failure

    def _connect(
        self,
        address: str,
        port: int,
        end: float | None,
        local_address: str | None,
        options: Iterable[httpcore.SOCKET_OPTION],
    ) -> socket.socket:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for option in options:
                sock.setsockopt(*option)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if local_address:
                sock.bind((local_address, 0))
            sock.setblocking(False)
            try:
                sock.connect((address, port))
                err = 0
            except BlockingIOError:  # EINPROGRESS: wait for it below, in slices
                err = errno.EINPROGRESS
            with selectors.DefaultSelector() as sel:
                sel.register(sock, selectors.EVENT_WRITE)
                while err:
                    if sel.select(_slice(self._halted, end, httpcore.ConnectTimeout)):
                        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if err:
                            raise OSError(err, errno.errorcode.get(err, str(err)))
                        break
            sock.setblocking(True)
        except OSError as exc:
            sock.close()
            raise httpcore.ConnectError(f"{address}:{port}: {exc}") from exc
        except BaseException:
            sock.close()
            raise
        return sock

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by syncd")

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, _slice(self._halted, None, httpcore.PoolTimeout)))


def transport(backend: GuardedBackend, ssl_context: ssl.SSLContext | None) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through ``backend``."""
    context = ssl_context or httpx.create_ssl_context(trust_env=False)
    result = httpx.HTTPTransport(verify=context, trust_env=False)
    # httpx 0.28 has no parameter for httpcore's network backend; the pool is rebuilt
    # with httpx's default limits and ours (the pattern SSRF-safe httpx clients use).
    result._pool = httpcore.ConnectionPool(
        ssl_context=context,
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=backend,
    )
    return result
