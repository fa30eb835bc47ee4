"""Every state failure is StateUnavailable, through both clients: error replies (OOM, NOAUTH,
MOVED from a Cluster node that does not own the slot, READONLY from a replica) as much as lost
connections, each with the `kind` that gateway_state_errors_total{kind} counts. (The limiter,
the cache and the router turn StateUnavailable into the `on_redis_error` path: never a 500.)"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import Awaitable, Iterator

import pytest
import redis
from redis.crc import key_slot

from gateway.config.state_types import RedisClientName
from gateway.state import LimitCheck, RedisOptions, StateUnavailable
from gateway.state.redis.backend import RedisState
from tests.conditions import eventually
from tests.redis_server import RedisServer, start_redis_or_skip
from tests.redis_topologies import Topology

T0 = 1_768_435_200.0
RPM = [LimitCheck("key", "demo", "rpm", 50, 1)]
CLIENTS: list[RedisClientName] = ["resp", "redis-py"]


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    server = start_redis_or_skip()
    yield server
    server.stop()


async def _kind(call: Awaitable[object]) -> str:
    with pytest.raises(StateUnavailable) as info:
        await call
    return info.value.kind


@pytest.mark.parametrize("client", CLIENTS)
async def test_out_of_memory_is_unavailable_and_passes(
    own_server: RedisServer, client: RedisClientName
) -> None:
    state = RedisState(RedisOptions(url=own_server.url, client=client, timeout_s=2.0))
    try:
        assert (await state.acquire(RPM, T0)).allowed
        with redis.Redis.from_url(own_server.url) as admin:
            admin.config_set("maxmemory", 1)
            assert await _kind(state.acquire(RPM, T0)) == "oom"
            assert await _kind(state.set("k", b"v", 10, T0)) == "oom"  # answered, not "down"
            admin.config_set("maxmemory", 0)
        assert (await state.acquire(RPM, T0)).allowed
    finally:
        await state.aclose()


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_password_set_under_the_gateway_is_noauth(
    own_server: RedisServer, client: RedisClientName
) -> None:
    state = RedisState(RedisOptions(url=own_server.url, client=client, timeout_s=2.0))
    try:
        assert (await state.acquire(RPM, T0)).allowed
        with redis.Redis.from_url(own_server.url) as admin:
            admin.config_set("requirepass", "now-required")
            admin.client_kill_filter(_type="normal", skipme=True)

        async def noauth() -> bool:
            try:
                await state.acquire(RPM, T0)
            except StateUnavailable as exc:
                return exc.kind == "noauth"
            return False

        assert await eventually(noauth, 3.0)
    finally:
        await state.aclose()


async def test_moved_from_a_node_without_the_slot_is_unavailable(
    cluster_topology: Topology,
) -> None:
    """A standalone client pointed at a Cluster node: MOVED is an error reply it cannot follow."""
    slot = key_slot(b"limits")  # the hash tag of every limit key
    first = cluster_topology.servers[0]
    with redis.Redis(port=first.port) as node:
        ranges = node.execute_command("CLUSTER SLOTS")
    owner = next(int(entry[2][1]) for entry in ranges if entry[0] <= slot <= entry[1])
    other = next(server for server in cluster_topology.servers if server.port != owner)
    for client in CLIENTS:
        state = RedisState(RedisOptions(url=other.url, client=client, timeout_s=2.0))
        try:
            assert await _kind(state.acquire(RPM, T0)) == "moved"
        finally:
            await state.aclose()


async def test_readonly_from_a_replica_is_unavailable(sentinel_topology: Topology) -> None:
    replica = next(server for server in sentinel_topology.servers if _role(server) == "slave")
    for client in CLIENTS:
        state = RedisState(RedisOptions(url=replica.url, client=client, timeout_s=2.0))
        try:
            assert await _kind(state.set("k", b"v", 10, T0)) == "readonly"
        finally:
            await state.aclose()


def _role(server: RedisServer) -> str:
    with redis.Redis(port=server.port) as node:
        return str(node.info("replication")["role"])


async def test_every_cluster_node_gets_the_scripts_again_after_a_flush(
    cluster_topology: Topology,
) -> None:
    """EVALSHA on the node owning the slot; NOSCRIPT there (a new, flushed or promoted node)
    sends the script again with EVAL, to that node."""
    cluster_topology.flush()
    state = RedisState(dataclasses.replace(cluster_topology.options, timeout_s=2.0))
    try:
        assert (await state.acquire(RPM, T0, ["dep"])).allowed
        await state.breaker_record("dep", False, T0, 3, 10, 30)  # another slot, maybe node
        for url in cluster_topology.admin_urls:
            with redis.Redis.from_url(url) as node:
                node.script_flush()
        assert (await state.acquire(RPM, T0, ["dep"])).allowed
        assert (await state.breaker_record("dep", False, T0, 3, 10, 30)).failures == 2
        assert (await state.usage("key", "demo", T0))["requests_1m"] == 2
    finally:
        await state.aclose()


async def test_a_timeout_fails_every_call_waiting_on_the_stalled_server(
    own_server: RedisServer,
) -> None:
    """redis-py: calls in flight on other pooled connections to a stalled server fail with the
    first one that times out ("down", as a call made then is refused), as they do on the RESP
    client's one connection, instead of each waiting out its own timeout. (The calls of one
    turn of the loop are one pipeline on one connection: they time out together.)"""
    assert own_server.process is not None
    state = RedisState(RedisOptions(url=own_server.url, client="redis-py", timeout_s=0.25))
    try:
        assert await state.ping()
        os.kill(own_server.process.pid, signal.SIGSTOP)
        calls = []
        for _ in range(6):  # each in a turn of its own: six pipelines, on six connections
            calls.append(state.begin_acquire(RPM, T0))
            await asyncio.sleep(0)
        kinds = [await _kind(call) for call in calls]
        assert sorted(kinds) == ["down"] * 5 + ["timeout"], kinds
        os.kill(own_server.process.pid, signal.SIGCONT)
        assert await state.ping()
        os.kill(own_server.process.pid, signal.SIGSTOP)
        together = [state.begin_acquire(RPM, T0) for _ in range(6)]  # one turn: one pipeline
        assert [await _kind(call) for call in together] == ["timeout"] * 6
    finally:
        os.kill(own_server.process.pid, signal.SIGCONT)
        await state.aclose()
