"""Content-Encoding undone under a byte cap. Contains no business logic.

httpx inflates each network chunk in one call, so a 64 KiB chunk of a gzip bomb becomes
64 MiB before any cap can look at it, and ``Content-Encoding: gzip, gzip`` multiplies
that again (issue 9: under 1 KB of body inflated past 1 GB). Here the cap bounds the
bytes *as they are produced*: zlib is asked for at most ``PIECE`` bytes per call, so the
memory a response costs is at most the cap plus one piece, whatever the ratio.

- supported: ``gzip`` (``x-gzip``), ``deflate`` (zlib-wrapped or raw, as browsers do),
  ``identity``; ``ACCEPT_ENCODING`` advertises exactly these;
- more than one non-identity layer (``gzip, gzip``) is refused: no server needs it and
  every extra layer multiplies the ratio;
- any other coding (``br``, ``zstd``, …, never asked for) is refused rather than passed
  on as garbage;
- the raw (still encoded) bytes are capped too.

Raises ``TooLarge``, ``Undecodable`` or ``Unsupported``; the client maps them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence

ACCEPT_ENCODING = "gzip, deflate"
PIECE = 64 * 1024
_GZIP = ("gzip", "x-gzip")


class TooLarge(Exception):
    """More than ``cap`` bytes were produced (internal: the client maps it)."""

    def __init__(self, cap: int, encoding: str) -> None:
        self.cap = cap
        self.encoding = encoding
        super().__init__(f"more than {cap} bytes ({encoding})")


class Undecodable(Exception):
    """The body is not valid for its declared coding (internal)."""


class Unsupported(Exception):
    """A coding or a stack of codings syncd does not decode (internal)."""


def _layers(encodings: Sequence[str]) -> list[str]:
    return [e.strip().lower() for e in encodings if e.strip() and e.strip().lower() != "identity"]


class Decoder:
    """Undoes ``encodings`` (the Content-Encoding values, in order) on a stream of raw
    chunks, yielding pieces of at most ``PIECE`` bytes; raises ``TooLarge`` as soon as
    more than ``cap`` raw or decoded bytes have been seen."""

    def __init__(self, encodings: Sequence[str], cap: int) -> None:
        layers = _layers(encodings)
        if len(layers) > 1:
            raise Unsupported(f"nested content codings refused: {', '.join(layers)}")
        self.encoding = layers[0] if layers else "identity"
        if self.encoding not in ("identity", "deflate", *_GZIP):
            raise Unsupported(f"content coding {self.encoding!r} is not supported")
        self.cap = cap
        self.raw = 0
        self.produced = 0
        self._obj: zlib._Decompress | None = None
        if self.encoding in _GZIP:
            self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self._head = b""  # deflate: bytes kept until the wrapper can be told apart

    def _count(self, piece: bytes) -> bytes:
        self.produced += len(piece)
        if self.produced > self.cap:
            raise TooLarge(self.cap, self.encoding)
        return piece

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces for one raw chunk."""
        self.raw += len(data)
        if self.raw > self.cap:
            raise TooLarge(self.cap, self.encoding)
        if self.encoding == "identity":
            if data:
                yield self._count(data)
            return
        if self._obj is None:
            # "deflate" is zlib-wrapped by the RFC, raw by many servers: tell them apart
            # by the two-byte zlib header (method 8, header checksum divisible by 31).
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        yield from self._drain(data)

    def finish(self) -> Iterator[bytes]:
        """What is left once the body has ended."""
        if self._head:
            data, self._head = self._head, b""
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
            yield from self._drain(data)
        if self._obj is not None:
            yield from self._drain(b"")

    def _drain(self, data: bytes) -> Iterator[bytes]:
        assert self._obj is not None
        try:
            while True:
                # max_length bounds this call's output; input zlib could not use yet
                # waits in unconsumed_tail.
                piece = self._obj.decompress(data, PIECE)
                if piece:
                    yield self._count(piece)
                data = self._obj.unconsumed_tail
                if not data and len(piece) < PIECE:
                    return
                if self._obj.eof:
                    return  # trailing bytes after the stream end are ignored, as httpx does
        except zlib.error as exc:
            raise Undecodable(f"{self.encoding}: {exc}") from exc
