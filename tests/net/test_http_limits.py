"""The polite client's bounds (issue 9): decoded bytes under the cap however they are
compressed, a total deadline however slowly a server drips, a stop that ends a request
in flight, and header numbers that cannot overflow. Real sockets on loopback."""

from __future__ import annotations

import gzip
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.config import Duration, HttpConfig
from syncd.errors import NetCancelled, NetError
from syncd.net import inflate
from syncd.net.http import (
    MAX_CACHE_HINT,
    MAX_RETRY_AFTER,
    PoliteClient,
    cache_hint,
    parse_retry_after,
)
from tests.support.loopback import LoopbackServer, Reply, Request

CAP = 1024 * 1024
MIB = 1024 * 1024
TLS = Path(__file__).parent.parent / "fixtures" / "tls"  # self-signed for tls.example, 100 y


def make(clients: list[PoliteClient], **kw: object) -> PoliteClient:
    opts: dict[str, object] = {"allow_private": True, "host_delay": Duration(0)}
    ctor = {k: kw.pop(k) for k in ("stop", "resolver", "ssl_context", "sleep") if k in kw}
    opts.update(kw)
    c = PoliteClient(HttpConfig(**opts), **ctor)  # type: ignore[arg-type]
    clients.append(c)
    return c


def _zeros_compressed(size: int, wbits: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(MIB)
    out = [z.compress(block) for _ in range(size // MIB)]
    return b"".join(out) + z.flush()


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """64 MiB of zeros in each coding: about 64 KiB on the wire, one network read."""
    gz = _zeros_compressed(64 * MIB, 31)
    return {
        "gzip": gz,
        "x-gzip": gz,
        "deflate": _zeros_compressed(64 * MIB, 15),  # zlib-wrapped, as RFC 9110 says
        "raw-deflate": _zeros_compressed(64 * MIB, -15),  # what many servers send
    }


def _peak_while(fn: object) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
        raised: BaseException | None = None
    except BaseException as exc:  # noqa: BLE001 - returned to the test
        raised = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return raised, peak


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate", "raw-deflate"])
def test_a_compression_bomb_costs_no_more_than_the_cap(
    server: LoopbackServer, clients: list[PoliteClient], bombs: dict[str, bytes], coding: str
) -> None:
    body = bombs[coding]
    assert len(body) < 100 * 1024
    header = "deflate" if coding == "raw-deflate" else coding
    server.routes["/bomb"] = lambda req: Reply(200, body, {"Content-Encoding": header})
    client = make(clients, max_bytes=CAP)
    raised, peak = _peak_while(lambda: client.get("s", server.url + "/bomb"))
    assert isinstance(raised, NetError), raised
    assert "too large" in str(raised)
    # Without the bound, one 64 KiB read inflated to 64 MiB before the cap looked.
    assert peak < 3 * CAP, f"peak {peak / MIB:.1f} MiB"


def test_nested_codings_are_refused_before_inflating(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    inner = _zeros_compressed(64 * MIB, 31)
    body = gzip.compress(inner, 9)
    assert len(body) < 2048  # the shape: a few hundred bytes, gigabytes inside
    server.routes["/nested"] = lambda req: Reply(200, body, {"Content-Encoding": "gzip, gzip"})
    client = make(clients, max_bytes=CAP)
    raised, peak = _peak_while(lambda: client.get("s", server.url + "/nested"))
    assert isinstance(raised, NetError)
    assert "nested content codings refused: gzip, gzip" in str(raised)
    assert peak < CAP


@pytest.mark.parametrize(
    ("header", "encode"),
    [
        ("gzip", lambda b: gzip.compress(b)),
        ("deflate", lambda b: zlib.compress(b)),
        ("deflate", lambda b: zlib.compress(b, wbits=-15)),
        ("identity", lambda b: b),
        ("gzip, identity", lambda b: gzip.compress(b)),
        ("", lambda b: b),
    ],
)
def test_bodies_within_the_cap_are_decoded(
    server: LoopbackServer, clients: list[PoliteClient], header: str, encode: object
) -> None:
    text = "Stadt Düren – Partnerstadt Jinhua 金华. ".encode() * 2000
    body = encode(text)  # type: ignore[operator]
    headers = {"Content-Encoding": header} if header else {}
    server.routes["/ok"] = lambda req: Reply(200, body, headers)
    resp = make(clients, max_bytes=CAP).get("s", server.url + "/ok")
    assert resp.content == text
    assert server.requests[-1].headers["accept-encoding"] == "gzip, deflate"


def test_a_plain_body_over_the_cap_without_length_is_refused(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    server.routes["/big"] = lambda req: Reply(200, iter([bytes(64 * 1024)] * 40))
    with pytest.raises(NetError, match="too large"):
        make(clients, max_bytes=CAP).get("s", server.url + "/big")


@pytest.mark.parametrize("coding", ["br", "zstd", "compress"])
def test_codings_syncd_never_asked_for_are_refused(
    server: LoopbackServer, clients: list[PoliteClient], coding: str
) -> None:
    server.routes["/x"] = lambda req: Reply(
        200, b"\x1b\x00\x00garbage", {"Content-Encoding": coding}
    )
    with pytest.raises(NetError, match=f"content coding '{coding}' is not supported"):
        make(clients).get("s", server.url + "/x")


def test_a_corrupt_gzip_body_is_a_fetch_error(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    server.routes["/x"] = lambda req: Reply(
        200, b"\x1f\x8bnot gzip at all", {"Content-Encoding": "gzip"}
    )
    with pytest.raises(NetError, match="could not be decoded: gzip"):
        make(clients).get("s", server.url + "/x")


def test_the_decoder_bounds_every_call_and_reads_split_headers() -> None:
    text = b"Jinhua " * 50_000
    dec = inflate.Decoder(["deflate"], cap=len(text))
    wire = zlib.compress(text)
    out = []
    for i in range(len(wire)):  # one byte at a time: the zlib header arrives split
        out.extend(dec.feed(wire[i : i + 1]))
    out.extend(dec.finish())
    assert b"".join(out) == text
    assert max(len(p) for p in out) <= inflate.PIECE
    bomb = inflate.Decoder(["gzip"], cap=CAP)
    pieces = bomb.feed(_zeros_compressed(16 * MIB, 31))
    with pytest.raises(inflate.TooLarge):
        for _ in pieces:
            assert bomb.produced <= CAP + inflate.PIECE


# ---------------------------------------------------------------------------- deadline


def _drip(until: threading.Event, every: float = 0.2) -> Iterator[bytes]:
    while not until.wait(every):
        yield b"x"


@pytest.fixture
def hang_up() -> Iterator[threading.Event]:
    """Set at the end of a test so that dripping handlers finish."""
    done = threading.Event()
    yield done
    done.set()


def test_a_dripping_body_is_abandoned_at_the_deadline(
    server: LoopbackServer, clients: list[PoliteClient], hang_up: threading.Event
) -> None:
    server.routes["/drip"] = lambda req: Reply(200, _drip(hang_up))
    client = make(clients, timeout=Duration(seconds=30), deadline=Duration(seconds=1))
    start = time.monotonic()
    with pytest.raises(NetError, match=r"no complete answer within 1s \(http.deadline\)"):
        client.get("s", server.url + "/drip")
    assert time.monotonic() - start < 2.0


def test_slow_headers_are_abandoned_at_the_deadline(
    server: LoopbackServer, clients: list[PoliteClient], hang_up: threading.Event
) -> None:
    def slow(req: Request) -> Reply:
        hang_up.wait(20)
        return Reply(200, b"late")

    server.routes["/slow"] = slow
    client = make(clients, timeout=Duration(seconds=30), deadline=Duration(seconds=1))
    start = time.monotonic()
    with pytest.raises(NetError, match="http.deadline"):
        client.get("s", server.url + "/slow")
    assert time.monotonic() - start < 2.0


def test_the_deadline_spans_redirects(
    server: LoopbackServer, clients: list[PoliteClient], hang_up: threading.Event
) -> None:
    def hop(req: Request) -> Reply:
        hang_up.wait(0.4)
        return Reply(302, b"", {"Location": "/hop"})

    server.routes["/hop"] = hop
    client = make(clients, deadline=Duration(seconds=1), max_redirects=10)
    start = time.monotonic()
    with pytest.raises(NetError, match="http.deadline"):
        client.get("s", server.url + "/hop")
    assert time.monotonic() - start < 2.0
    assert 2 <= len(server.requests) <= 4


def _in_thread(fn: object) -> tuple[threading.Thread, list[BaseException], list[float]]:
    raised: list[BaseException] = []
    ended: list[float] = []

    def run() -> None:
        try:
            fn()  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            raised.append(exc)
        ended.append(time.monotonic())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, raised, ended


def _wait_for(cond: object, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.02)


def test_stop_abandons_a_dripping_request_within_a_second(
    server: LoopbackServer, clients: list[PoliteClient], hang_up: threading.Event
) -> None:
    server.routes["/drip"] = lambda req: Reply(200, _drip(hang_up))
    stop = threading.Event()
    client = make(clients, stop=stop, deadline=Duration(seconds=60))
    t, raised, ended = _in_thread(lambda: client.get("s", server.url + "/drip"))
    _wait_for(lambda: server.requests)
    time.sleep(0.5)  # well into the body
    stopped = time.monotonic()
    stop.set()
    t.join(5)
    assert isinstance(raised[0], NetCancelled)
    assert ended[0] - stopped < 1.0
    with pytest.raises(NetCancelled):  # and no new request starts
        client.get("s", server.url + "/drip")
    assert len(server.requests) == 1


def test_close_abandons_a_request_in_flight(
    server: LoopbackServer, clients: list[PoliteClient], hang_up: threading.Event
) -> None:
    server.routes["/drip"] = lambda req: Reply(200, _drip(hang_up))
    client = make(clients)
    t, raised, ended = _in_thread(lambda: client.get("s", server.url + "/drip"))
    _wait_for(lambda: server.requests)
    closed = time.monotonic()
    client.close()
    t.join(5)
    assert isinstance(raised[0], NetCancelled)
    assert ended[0] - closed < 1.0


def test_stop_ends_the_polite_wait_between_requests(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    server.routes["/a"] = lambda req: Reply(200, b"a")
    stop = threading.Event()
    client = make(clients, stop=stop, host_delay=Duration(seconds=60))
    client.get("s", server.url + "/a")
    t, raised, ended = _in_thread(lambda: client.get("s", server.url + "/a"))
    time.sleep(0.3)
    stopped = time.monotonic()
    stop.set()
    t.join(5)
    assert isinstance(raised[0], NetCancelled)
    assert ended[0] - stopped < 1.0
    assert len(server.requests) == 1


def _tls_server() -> LoopbackServer:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    srv = LoopbackServer()
    srv.httpd.socket = ctx.wrap_socket(srv.httpd.socket, server_side=True)
    return srv.start()


def test_tls_names_the_host_and_the_deadline_holds_over_tls(
    clients: list[PoliteClient], hang_up: threading.Event
) -> None:
    srv = _tls_server()
    try:
        srv.routes["/ok"] = lambda req: Reply(
            200, gzip.compress(b"sicher"), {"Content-Encoding": "gzip"}
        )
        srv.routes["/drip"] = lambda req: Reply(200, _drip(hang_up))
        trust = ssl.create_default_context(cafile=str(TLS / "cert.pem"))
        client = make(
            clients,
            resolver=lambda host, port: ["127.0.0.1"],
            ssl_context=trust,
            deadline=Duration(seconds=1),
        )
        base = f"https://tls.example:{srv.port}"
        assert client.get("s", base + "/ok").content == b"sicher"
        start = time.monotonic()
        with pytest.raises(NetError, match="http.deadline"):
            client.get("s", base + "/drip")
        assert time.monotonic() - start < 2.0
        # the certificate is checked for the name, not for the address connected
        other = make(clients, resolver=lambda host, port: ["127.0.0.1"], ssl_context=trust)
        with pytest.raises(NetError, match="network error: .*(?i:certificate|hostname)"):
            other.get("s", f"https://other.example:{srv.port}/ok")
    finally:
        hang_up.set()
        srv.stop()


# -------------------------------------------------------------------- header numbers

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("age", [str(10**30), "9" * 5000, str(10**12)])
def test_an_absurd_max_age_is_capped_not_an_overflow(age: str) -> None:
    assert cache_hint({"cache-control": f"public, max-age={age}"}, NOW) == MAX_CACHE_HINT


def test_a_far_expires_is_capped() -> None:
    assert cache_hint({"expires": "Fri, 31 Dec 9999 23:59:59 GMT"}, NOW) == MAX_CACHE_HINT
    assert cache_hint({"cache-control": "max-age=600"}, NOW) == timedelta(minutes=10)


@pytest.mark.parametrize("value", [str(10**30), "9" * 5000])
def test_an_absurd_retry_after_is_capped(value: str) -> None:
    assert parse_retry_after(value, NOW) == MAX_RETRY_AFTER


@pytest.mark.parametrize("value", ["²", "٣٠", "soon", "Mon, 99 Foo 99999 99:99:99 GMT"])
def test_an_unreadable_retry_after_is_none(value: str) -> None:
    assert parse_retry_after(value, NOW) is None
