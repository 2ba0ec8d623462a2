"""Tiny real images for tests. Contains no business logic."""

from __future__ import annotations

import struct
import zlib


def png(seed: int) -> bytes:
    """A real (decodable) 2x2 RGB PNG; ``seed`` varies the pixels and so the hash."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\x00" + bytes([seed % 256, 7, 9] * 2) for _ in range(2))
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
