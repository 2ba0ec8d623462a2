"""Hostile sources for loopback servers (issue 9, items 1–4), shared by the acceptance
tests and bench/soak.py. Contains no business logic.

Each case is a route ``(request) -> Reply`` on a ``LoopbackServer``:

- ``dates``:   entries dated year 1 and 9999 with offsets (RFC 822 and ISO forms)
- ``max-age``: an absurd ``Cache-Control: max-age``, ``Expires`` and RSS ``<ttl>``
- ``bomb2``:   ``Content-Encoding: gzip, gzip``: 6 KB on the wire, 512 MiB inside
- ``bomb``:    one gzip layer of 256 MiB of zeros (1.2 MB on the wire)
- ``drip``:    a 200 OK whose body arrives one byte per second
- ``nested``:  an entry whose body is 40,000 nested ``<div>`` (440 KB)
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Callable, Iterator
from functools import cache

from tests.support.feeds import Entry, rss
from tests.support.loopback import Reply, Request

MIB = 1024 * 1024
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}

CASES = ("dates", "max-age", "bomb2", "bomb", "drip", "nested")


def _zeros_gzip(size: int) -> bytes:
    # level 1: a quarter of level 9's ratio in half its time; still ~200:1
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = bytes(MIB)
    return b"".join(z.compress(block) for _ in range(size // MIB)) + z.flush()


@cache
def bomb_single() -> bytes:
    return _zeros_gzip(256 * MIB)


@cache
def bomb_double() -> bytes:
    return gzip.compress(_zeros_gzip(512 * MIB), 9)


def nested_body(elements: int = 40_000) -> str:
    return "<div>" * elements + "tief" + "</div>" * elements


def _items(key: str) -> list[Entry]:
    """One ordinary entry per hostile feed, so a hostile feed is also a real one."""
    return [Entry(f"{key}-ok", "Welt.", "<p>Welt.</p>", f"https://www.dueren.de/{key}")]


def _dates(req: Request) -> Reply:
    edge = [
        Entry("y1", "Welt.", "<p>Welt.</p>", pub="Mon, 01 Jan 0001 00:00:00 +0100"),
        Entry("y9999", "Welt.", "<p>Welt.</p>", pub="Fri, 31 Dec 9999 23:59:59 -0100"),
        Entry("iso1", "Welt.", "<p>Welt.</p>", pub="0001-01-01T00:00:00+01:00"),
        Entry("iso9999", "Welt.", "<p>Welt.</p>", pub="9999-12-31T23:59:59-01:00"),
    ]
    return Reply(200, rss(_items("dates") + edge), RSS)


def _max_age(req: Request) -> Reply:
    body = rss(_items("max-age")).replace(
        b"<description>d</description>",
        b"<description>d</description><ttl>" + b"9" * 30 + b"</ttl>",
    )
    headers = {
        **RSS,
        "Cache-Control": "public, max-age=" + "9" * 40,
        "Expires": "Fri, 31 Dec 9999 23:59:59 GMT",
    }
    return Reply(200, body, headers)


def _bomb2(req: Request) -> Reply:
    return Reply(200, bomb_double(), {**RSS, "Content-Encoding": "gzip, gzip"})


def _bomb(req: Request) -> Reply:
    return Reply(200, bomb_single(), {**RSS, "Content-Encoding": "gzip"})


def _nested(req: Request) -> Reply:
    entry = Entry("nested", "Tief.", nested_body(), "https://www.dueren.de/tief")
    return Reply(200, rss([entry]), RSS)


def drip(until: threading.Event, every: float = 1.0) -> Callable[[Request], Reply]:
    """A feed whose body comes one byte every ``every`` seconds until ``until`` is set
    (then the connection closes): the response never completes on its own."""
    sent: list[int] = [0]

    def body() -> Iterator[bytes]:
        for byte in rss(_items("drip")):
            if until.wait(every):
                return
            sent[0] += 1
            yield bytes([byte])

    def route(req: Request) -> Reply:
        return Reply(200, body(), RSS)

    route.sent = sent  # type: ignore[attr-defined]
    return route


def route(case: str, until: threading.Event) -> Callable[[Request], Reply]:
    """The handler serving hostile ``case`` (one of ``CASES``)."""
    if case == "drip":
        return drip(until)
    if case in ("bomb", "bomb2"):  # built now (a second or two), not while syncd waits
        (bomb_single if case == "bomb" else bomb_double)()
    return {
        "dates": _dates,
        "max-age": _max_age,
        "bomb2": _bomb2,
        "bomb": _bomb,
        "nested": _nested,
    }[case]
