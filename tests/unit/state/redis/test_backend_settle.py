"""When a settlement started without an await (`RedisState.start_settle`) is encoded."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from gateway.state import LimitCheck, Reservation, Settlement
from gateway.state.redis import backend
from gateway.state.redis.backend import RedisState
from gateway.state.redis.settle_calls import ApplyOps
from gateway.state.redis.settle_calls import settle_ops as real_settle_ops

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z
SLOT = LimitCheck("key", "demo", "concurrent", 1, 1)


async def test_a_settlement_is_encoded_as_it_is_written_at_the_end_of_the_turn(
    redis_url: str,
    make_redis_state: Callable[[], RedisState],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Started just before an answer's last byte, its encoding must not hold that byte back:
    it happens when the turn's calls are written, after the byte has left."""
    state = make_redis_state()
    acquired = await state.acquire([SLOT], T0)
    assert acquired.reservation is not None
    encoded: list[int] = []

    def settle_ops(settlements: list[Settlement], now: float) -> ApplyOps:
        encoded.append(len(settlements))
        return real_settle_ops(settlements, now)

    monkeypatch.setattr(backend, "settle_ops", settle_ops)
    done = state.start_settle([Settlement(acquired.reservation, 1, 0.0)], T0 + 1)
    assert done is not None
    assert encoded == []  # not yet: the caller goes on to send its last byte
    await done
    assert encoded == [1]
    with redis.Redis.from_url(redis_url) as client:
        assert client.zcount("llmgw:{limits}:concurrent:key:demo", "(0", "+inf") == 0


async def test_a_settlement_with_nothing_to_write_needs_no_write(
    make_redis_state: Callable[[], RedisState],
) -> None:
    state = make_redis_state()
    assert await state.ping()
    nothing = Settlement(Reservation("t", (), T0, 1.0), 0, 0.0)
    assert state.start_settle([nothing], T0) is None  # found out now, not at the write
