"""A Redis that may evict (maxmemory with a policy other than noeviction) drops what the limits
count with once the response cache fills it (a day's spend counter: the budget starts again
from 0), silently: the gateway warns at start (`RedisState.warnings`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gateway.config.state_types import RedisClientName
from gateway.state import LimitCheck, RedisOptions, Settlement
from gateway.state.redis.backend import RedisState
from tests.procs import free_port
from tests.redis_server import RedisServer, redis_server_binary
from tests.unit.state.conftest import TEST_TIMEOUT_S

CLIENTS: list[RedisClientName] = ["resp", "redis-py"]


def _server(*extra: str) -> Iterator[RedisServer]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server")
    server = RedisServer(binary, free_port(), extra=list(extra))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def evicting() -> Iterator[RedisServer]:
    yield from _server("--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru")


@pytest.fixture
def keeping() -> Iterator[RedisServer]:
    yield from _server("--maxmemory", "8mb", "--maxmemory-policy", "noeviction")


@pytest.mark.parametrize("client", CLIENTS)
async def test_an_evicting_redis_is_warned_about(
    evicting: RedisServer, client: RedisClientName
) -> None:
    state = RedisState(RedisOptions(url=evicting.url, client=client, timeout_s=TEST_TIMEOUT_S))
    try:
        (warning,) = await state.warnings()
        assert "allkeys-lru" in warning and "spend" in warning
    finally:
        await state.aclose()


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_redis_that_does_not_evict_is_not(
    keeping: RedisServer, client: RedisClientName
) -> None:
    state = RedisState(RedisOptions(url=keeping.url, client=client, timeout_s=TEST_TIMEOUT_S))
    try:
        assert await state.warnings() == []
    finally:
        await state.aclose()


@pytest.fixture
def volatile() -> Iterator[RedisServer]:
    yield from _server("--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru")


async def test_every_key_but_the_all_time_spend_has_a_ttl(volatile: RedisServer) -> None:
    """What the docs and the warning say a `volatile-*` policy may evict: every key the state
    writes has a TTL (budgets' day and month spend included), but the all-time spend of keys
    and teams (an end user's has one: else one key per end user ever seen stayed for good)."""
    now = 1_768_435_200.0
    checks = [
        LimitCheck("key", "k", "rpm", 100, 1),
        LimitCheck("key", "k", "tpm", 10_000, 100),
        LimitCheck("key", "k", "concurrent", 5, 1),
        LimitCheck("key", "k", "budget_day", 10.0, 0.5),
        LimitCheck("key", "k", "budget_month", 100.0, 0.5),
        LimitCheck("user", "k/u", "budget_day", 10.0, 0.5),
    ]
    state = RedisState(RedisOptions(url=volatile.url, client="resp", timeout_s=TEST_TIMEOUT_S))
    try:
        (warning,) = await state.warnings()
        assert "budgets" in warning and "all but the all-time spend" in warning
        held = await state.acquire(checks, now)
        assert held.reservation is not None
        await state.settle([Settlement(held.reservation, 40, 0.25)], now + 1)
        await state.breaker_record("d", False, now, 5, 60.0, 30.0)
        await state.set("entry", b"cached", 60, now)
        await state.remember("response:resp_1", b"{}", 60, now)
        with redis.Redis.from_url(volatile.url) as client:
            ttls = {key.decode(): client.ttl(key) for key in client.keys("*")}
    finally:
        await state.aclose()
    lasting = sorted(key for key, ttl in ttls.items() if ttl < 0)
    assert lasting == ["llmgw:{limits}:spend:key:k:total"]
    kinds = {key.split(":")[2] for key in ttls if key.startswith("llmgw:{limits}:")}
    assert kinds == {"rpm", "tpm", "concurrent", "s", "spend"}  # windows, slots, receipts
    assert "llmgw:{limits}:spend:user:k/u:total" in ttls
    # those, day and month spend (the key's and the user's), a breaker, a cache entry, a response
    assert len(ttls) == 13


@pytest.fixture
def config_renamed(tmp_path: Path) -> Iterator[RedisServer]:
    conf = tmp_path / "redis.conf"
    conf.write_text('rename-command CONFIG ""\n')  # as ElastiCache, Azure, Memorystore
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server")
    server = RedisServer(binary, free_port(), config_file=conf)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_redis_that_will_not_say_is_warned_about(
    config_renamed: RedisServer, client: RedisClientName
) -> None:
    """INFO refused to an ACL user (`+@all -@dangerous`: INFO is @dangerous on Redis 6; or
    `-info`) on a server without CONFIG: until 2026-12-06 the gateway said nothing, as if the
    policy were noeviction. CONFIG itself is never sent."""
    port = config_renamed.port
    with redis.Redis(port=port) as admin:
        admin.execute_command(
            "ACL", "SETUSER", "d", "on", ">pw", "~llmgw:*", "+@all", "-@dangerous"
        )
        admin.execute_command("ACL", "SETUSER", "i", "on", ">pw", "~llmgw:*", "+@all", "-info")
    for user in ("d", "i"):
        url = f"redis://{user}:pw@127.0.0.1:{port}/0"
        state = RedisState(RedisOptions(url=url, client=client, timeout_s=TEST_TIMEOUT_S))
        try:
            (warning,) = await state.warnings()
            assert "could not tell" in warning and "noeviction" in warning
            assert await state.ping()  # start goes on: the state serves
        finally:
            await state.aclose()
