"""A Redis that may evict (maxmemory with a policy other than noeviction) drops what the limits
count with once the response cache fills it (a day's spend counter: the budget starts again
from 0), silently: the gateway warns at start (`RedisState.warnings`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.config.types import RedisClientName
from gateway.state import RedisOptions
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
