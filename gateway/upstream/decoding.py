"""Content-Encoding decoders for both network clients (driven by `body.CappedBody`): gzip,
deflate, br and zstd, fed piece by piece so a compressed stream is forwarded as it arrives.

Each call is given a `limit` and makes its output a piece at a time, never more than the limit
in all: a 1 MB gzip body can expand to 1 GiB, so a read is never decoded in full before the
size cap is checked. Past the limit a decoder raises `OutputLimit` with the output that fits,
and is spent.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli
import zstandard

from gateway.upstream.base import UpstreamError

# Output is made this much at a time (brotli: about, see `_Brotli`), never all at once.
PIECE_BYTES = 1 << 20


class OutputLimit(Exception):
    """A decoder was asked for more than its `limit`: `fitting` is the output up to it."""

    def __init__(self, fitting: list[bytes]) -> None:
        super().__init__("decoded output passes the limit")
        self.fitting = fitting


class Decoder(Protocol):
    def decompress(self, data: bytes, limit: int) -> list[bytes]:
        """`data` decoded, in pieces of about `PIECE_BYTES` at most; no more than `limit`
        bytes in all, else OutputLimit (the decoder is spent then)."""
        ...

    def flush(self, limit: int) -> list[bytes]:
        """What is left once the body has ended, held to `limit` as `decompress` is."""
        ...


class _Zlib:
    """gzip, or deflate as sent; `max_length` keeps zlib to a piece at a time."""

    def __init__(self, wbits: int) -> None:
        self._zlib = zlib.decompressobj(wbits)

    def decompress(self, data: bytes, limit: int) -> list[bytes]:
        pieces: list[bytes] = []
        room = limit
        while True:
            # One byte past the room tells "more" from "exactly the room" (0 means no limit).
            asked = min(PIECE_BYTES, room + 1)
            out = self._zlib.decompress(data, asked)
            data = self._zlib.unconsumed_tail
            if len(out) > room:
                raise OutputLimit([*pieces, out[:room]])
            if out:
                pieces.append(out)
                room -= len(out)
            if len(out) < asked and not data:  # all taken, all made
                return pieces

    def flush(self, limit: int) -> list[bytes]:
        return self.decompress(b"", limit)


class _Deflate:
    """`deflate` is meant to be zlib-wrapped, but some servers send it raw: try both."""

    def __init__(self) -> None:
        self._zlib = _Zlib(zlib.MAX_WBITS)
        self._first = True

    def decompress(self, data: bytes, limit: int) -> list[bytes]:
        if self._first:
            self._first = False
            try:
                return self._zlib.decompress(data, limit)
            except zlib.error:
                self._zlib = _Zlib(-zlib.MAX_WBITS)
        return self._zlib.decompress(data, limit)

    def flush(self, limit: int) -> list[bytes]:
        return self._zlib.flush(limit)


class _Brotli:
    """brotli keeps its `output_buffer_limit` only to a block (a piece may reach about twice
    what it asks); the pieces are counted against the limit here."""

    def __init__(self) -> None:
        self._brotli = brotli.Decompressor()

    def decompress(self, data: bytes, limit: int) -> list[bytes]:
        # brotli-stubs 1.2.1 lacks `output_buffer_limit` (brotli 1.2).
        process = self._brotli.process
        pieces: list[bytes] = []
        room = limit
        while True:
            out = bytes(process(data, output_buffer_limit=PIECE_BYTES))  # type: ignore[call-arg]
            # `data` is taken whole; what is not decoded yet waits inside, and brotli says no
            # more than that nothing is left to make: it is asked until it makes nothing.
            data = b""
            if len(out) > room:
                raise OutputLimit([*pieces, out[:room]])
            if not out:
                return pieces
            pieces.append(out)
            room -= len(out)

    def flush(self, limit: int) -> list[bytes]:
        return []


class _Collected:
    """Where zstd's writer puts its output, a piece at a time (at most its `write_size`,
    128 KiB), refusing to hold more than `limit`."""

    def __init__(self) -> None:
        self.room = 0
        self.pieces: list[bytes] = []

    def write(self, data: bytes) -> int:
        piece = bytes(data)
        if len(piece) > self.room:
            raise OutputLimit([*self.pieces, piece[: self.room]])
        self.pieces.append(piece)
        self.room -= len(piece)
        return len(piece)


class _Zstd:
    """zstandard's `decompressobj` returns all it decodes at once; its `stream_writer` hands
    the output over piece by piece, so the limit is checked as it goes. It reads several
    frames, one after another."""

    def __init__(self) -> None:
        self._sink = _Collected()
        writer = zstandard.ZstdDecompressor().stream_writer
        self._zstd = writer(self._sink)  # type: ignore[arg-type]  # it calls only `write`

    def decompress(self, data: bytes, limit: int) -> list[bytes]:
        sink = self._sink
        sink.room, sink.pieces = limit, []
        self._zstd.write(data)
        return sink.pieces

    def flush(self, limit: int) -> list[bytes]:
        return []


def _feed(decoder: Decoder, pieces: list[bytes], limit: int, flush: bool) -> list[bytes]:
    """`pieces` through one decoder, `limit` bytes out in all."""
    out: list[bytes] = []
    room = limit
    try:
        for piece in pieces:
            made = decoder.decompress(piece, room)
            out += made
            room -= sum(map(len, made))
        if flush:
            out += decoder.flush(room)
    except OutputLimit as over:
        raise OutputLimit(out + over.fitting) from None
    return out


class _Chain:
    """`Content-Encoding: gzip, br`: the last coding applied is undone first. Each layer is held
    to the limit: a compressed layer larger than the whole answer may be is refused too."""

    def __init__(self, decoders: list[Decoder]) -> None:
        self._decoders = decoders

    def decompress(self, data: bytes, limit: int) -> list[bytes]:
        return self._through(0, [data], limit, flush=False)

    def flush(self, limit: int) -> list[bytes]:
        return self._through(0, [], limit, flush=True)

    def _through(self, first: int, pieces: list[bytes], limit: int, *, flush: bool) -> list[bytes]:
        for index in range(first, len(self._decoders)):
            try:
                pieces = _feed(self._decoders[index], pieces, limit, flush)
            except OutputLimit as over:
                # The layers after this one undo what fits of it, then the limit is passed.
                rest = self._through(index + 1, over.fitting, limit, flush=False)
                raise OutputLimit(rest) from None
        return pieces


def _one(coding: str) -> Decoder | None:
    if coding in ("gzip", "x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _Deflate()
    if coding == "br":
        return _Brotli()
    if coding == "zstd":
        return _Zstd()
    if coding in ("", "identity"):
        return None
    raise UpstreamError("protocol", f"upstream used an unsupported content-encoding '{coding}'")


def decoder_for(content_encoding: str) -> Decoder | None:
    """The decoder of a `Content-Encoding` value; None for identity. Raises UpstreamError for a
    coding it cannot undo (passing it on would hand the client bytes it cannot read)."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    decoders = [d for d in (_one(c) for c in reversed(codings)) if d is not None]
    if not decoders:
        return None
    return decoders[0] if len(decoders) == 1 else _Chain(decoders)


# What a failed decode raises (zlib.error, brotli.error, zstandard.ZstdError, ValueError).
DECODE_ERRORS: tuple[type[Exception], ...] = (
    zlib.error,
    brotli.error,
    zstandard.ZstdError,
    ValueError,
)
