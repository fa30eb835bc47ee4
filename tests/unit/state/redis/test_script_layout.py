"""How the Redis scripts keep windows and slots: the same verdicts as the memory state over
random traffic, a window's summary fields, one read and one write per check under steady
traffic, and the encodings Redis is made to keep (a hash table, a skiplist)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import redis

from gateway.state import (
    LimitCheck,
    MemoryState,
    Reservation,
    Settlement,
)
from gateway.state.redis.backend import RedisState

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z
RPM_50 = [LimitCheck("key", "demo", "rpm", 50, 1)]


def stored_slots(client: redis.Redis, key: str) -> int:
    """The slots a concurrency zset stores, expired or not (not its padding member, score 0)."""
    return int(client.zcount(key, "(0", "+inf"))


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
