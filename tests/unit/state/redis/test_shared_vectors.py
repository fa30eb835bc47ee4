"""The Redis stream of the semantic cache's shared vectors: bounded (about its newest
`SHARED_VECTORS_MAX`), and gone once it holds only vectors of expired cache entries."""

from __future__ import annotations

import pytest
import redis

from gateway.state.redis import vectors
from gateway.state.redis.backend import RedisState
from gateway.state.redis.keys import KeyNames

STREAM = KeyNames().vectors


async def test_the_stream_keeps_about_its_newest_entries(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "SHARED_VECTORS_MAX", 10)
    state = RedisState(redis_url)
    try:
        for n in range(1000):
            await state.share_vector(b"%d" % n, 60.0)
    finally:
        await state.aclose()
    with redis.Redis.from_url(redis_url) as client:
        kept = client.xlen(STREAM)
        newest = client.xrevrange(STREAM, count=1)[0][1][b"e"]
    # MAXLEN ~ trims whole nodes of the stream (100 entries each by default).
    assert 10 <= kept <= 110
    assert newest == b"999"


async def test_the_stream_lives_as_long_as_its_longest_lived_entry(redis_url: str) -> None:
    state = RedisState(redis_url)
    try:
        with redis.Redis.from_url(redis_url) as client:
            await state.share_vector(b"a", 60.0)
            assert 59_000 < client.pttl(STREAM) <= 60_000
            await state.share_vector(b"b", 3600.0)
            assert 3_599_000 < client.pttl(STREAM) <= 3_600_000
            await state.share_vector(b"c", 30.0)  # a shorter-lived one keeps the longer
            assert 3_598_000 < client.pttl(STREAM) <= 3_600_000
    finally:
        await state.aclose()
