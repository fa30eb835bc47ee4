"""Fixtures for the state contract suite (test_contract_*.py): every test runs once per backend,
through the `state` fixture. The suite's check builders are in contract.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis

from gateway.state import MemoryState, StateBackend
from gateway.state.redis.backend import RedisState
from tests.redis_server import RedisServer, start_redis_or_skip

BACKENDS = ["memory", "redis"]
# Generous, so bursts of new connections on a slow CI machine never time out; the outage
# tests in redis/test_backend.py check short timeouts.
TEST_TIMEOUT_S = 2.0


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis_or_skip()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The shared server, emptied for this test."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushdb()
    yield redis_server.url


@pytest.fixture
async def make_redis_state(redis_url: str) -> AsyncIterator[Callable[[], RedisState]]:
    """Builds RedisState instances on one server: several instances act as several replicas."""
    made: list[RedisState] = []

    def make() -> RedisState:
        made.append(RedisState(redis_url, socket_timeout_s=TEST_TIMEOUT_S))
        return made[-1]

    yield make
    for state in made:
        await state.aclose()


@pytest.fixture(params=BACKENDS)
async def state(request: pytest.FixtureRequest) -> AsyncIterator[StateBackend]:
    backend: StateBackend
    if request.param == "memory":
        backend = MemoryState()
    else:
        # Only the redis runs start a server; `redis_url` is a plain (sync) fixture.
        backend = RedisState(request.getfixturevalue("redis_url"), socket_timeout_s=TEST_TIMEOUT_S)
    yield backend
    await backend.aclose()
