"""Compression bombs: 64 MiB of zeros in each coding, each well under 1 MiB compressed, and
how much past a limit a decoder may hold while it refuses one."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotli
import zstandard

from gateway.upstream.decoding import PIECE_BYTES

MiB = 1 << 20
LIMIT = MiB
BOMB_BYTES = 64 * MiB  # decoded; each bomb is well under 1 MiB compressed
# A decoder makes its output a piece at a time; brotli keeps its `output_buffer_limit` only to
# a block (a piece may reach twice what it asks): what a decoder may hold past the limit.
PIECE_MOST = 2 * PIECE_BYTES
MARGIN = 2 * PIECE_MOST


def _zeros(pack: Callable[[bytes], bytes], finish: Callable[[], bytes]) -> bytes:
    block = bytes(MiB)
    return b"".join(pack(block) for _ in range(BOMB_BYTES // MiB)) + finish()


def bomb(encoding: str) -> bytes:
    if encoding in ("gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        z = zlib.compressobj(9, zlib.DEFLATED, wbits)
        return _zeros(z.compress, z.flush)
    if encoding == "br":
        br = brotli.Compressor(quality=1)
        return _zeros(br.process, br.finish)
    zs = zstandard.ZstdCompressor(level=1).compressobj()
    return _zeros(zs.compress, zs.flush)
