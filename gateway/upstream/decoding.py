"""Content-Encoding decoders for the hand-written client (httpx brings its own): gzip, deflate,
br and zstd, fed piece by piece so a compressed stream is forwarded as it arrives."""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli
import zstandard

from gateway.upstream.base import UpstreamError


class Decoder(Protocol):
    def decompress(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class _Deflate:
    """`deflate` is meant to be zlib-wrapped, but some servers send it raw: try both."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj()
        self._first = True

    def decompress(self, data: bytes) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._zlib.decompress(data)
            except zlib.error:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._zlib.decompress(data)

    def flush(self) -> bytes:
        return self._zlib.flush()


class _Brotli:
    def __init__(self) -> None:
        self._brotli = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        return bytes(self._brotli.process(data))

    def flush(self) -> bytes:
        return b""


class _Zstd:
    def __init__(self) -> None:
        self._zstd = zstandard.ZstdDecompressor().decompressobj()

    def decompress(self, data: bytes) -> bytes:
        out = b""
        while data:
            if self._zstd.eof:  # several frames, one after another
                self._zstd = zstandard.ZstdDecompressor().decompressobj()
            out += self._zstd.decompress(data)
            data = self._zstd.unused_data if self._zstd.eof else b""
        return out

    def flush(self) -> bytes:
        return b""


class _Chain:
    """`Content-Encoding: gzip, br`: the last coding applied is undone first."""

    def __init__(self, decoders: list[Decoder]) -> None:
        self._decoders = decoders

    def decompress(self, data: bytes) -> bytes:
        for decoder in self._decoders:
            data = decoder.decompress(data)
        return data

    def flush(self) -> bytes:
        data = b""
        for decoder in self._decoders:
            data = decoder.decompress(data) + decoder.flush()
        return data


def _one(coding: str) -> Decoder | None:
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
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
