"""The Content-Encoding decoders of the network clients hold no more than the limit they are
given: a bomb (a small body that expands a thousandfold or more) is cut off at the limit while
it is decoded, never expanded in full first. Memory is measured with tracemalloc, which sees
the buffers zlib, brotli and zstandard allocate for their output."""

from __future__ import annotations

import tracemalloc
import zlib

import brotli
import pytest
import zstandard

from gateway.upstream.decoding import Decoder, OutputLimit, decoder_for
from tests.unit.upstream.bombs import LIMIT, MARGIN, PIECE_MOST, MiB, bomb


def pack(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return zlib.compress(data, wbits=16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "br":
        return bytes(brotli.compress(data))
    return zstandard.ZstdCompressor().compress(data)


def decoder(encoding: str) -> Decoder:
    made = decoder_for(encoding)
    assert made is not None
    return made


ENCODINGS = ["gzip", "deflate", "br", "zstd"]


@pytest.mark.parametrize("encoding", [*ENCODINGS, "gzip, br", "br, zstd"])
def test_a_bomb_is_cut_off_at_the_limit_holding_little_more(encoding: str) -> None:
    body = bomb(encoding.split(", ")[0])
    for outer in encoding.split(", ")[1:]:
        body = pack(outer, body)
    assert len(body) < MiB
    tracemalloc.start()
    try:
        with pytest.raises(OutputLimit) as caught:
            decoder(encoding).decompress(body, LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert b"".join(caught.value.fitting) == bytes(LIMIT)  # what fits, exactly
    assert max(map(len, caught.value.fitting)) <= PIECE_MOST
    assert peak < LIMIT + MARGIN, f"{peak / MiB:.1f} MiB held to decode {LIMIT / MiB:.0f} MiB"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_bomb_fed_piece_by_piece_stops_at_the_limit(encoding: str) -> None:
    """As a stream arrives: each call makes at most the room left."""
    body, made, room = bomb(encoding), decoder(encoding), 3 * LIMIT
    with pytest.raises(OutputLimit) as caught:
        for start in range(0, len(body), 4096):
            out = made.decompress(body[start : start + 4096], room)
            assert all(len(piece) <= PIECE_MOST for piece in out)
            assert sum(map(len, out)) <= room
            room -= sum(map(len, out))
    assert sum(map(len, caught.value.fitting)) == room


@pytest.mark.parametrize("encoding", [*ENCODINGS, "gzip, br"])
def test_a_body_of_exactly_the_limit_passes_and_one_byte_more_does_not(encoding: str) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    body = pack(encoding.split(", ")[0], data)
    for outer in encoding.split(", ")[1:]:
        body = pack(outer, body)
    whole = decoder(encoding)
    assert b"".join(whole.decompress(body, len(data)) + whole.flush(0)) == data
    with pytest.raises(OutputLimit) as caught:
        decoder(encoding).decompress(body, len(data) - 1)
    assert b"".join(caught.value.fitting) == data[:-1]


@pytest.mark.parametrize("step", [7, 4096, 1 << 30])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_body_decodes_whole_however_it_is_fed(encoding: str, step: int) -> None:
    """Pieces of text and long runs (output bigger than a piece from one read); brotli leaves
    output inside after it has taken all the input, and is asked until it makes nothing."""
    data = b"".join(b"event %d " % n * 200 + bytes(300_000 * (n % 3)) for n in range(12))
    body, made, out = pack(encoding, data), decoder(encoding), []
    for start in range(0, len(body), step):
        out += made.decompress(body[start : start + step], 1 << 40)
    out += made.flush(1 << 40)
    assert b"".join(out) == data
