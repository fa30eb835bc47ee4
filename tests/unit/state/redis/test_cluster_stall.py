"""A Cluster whose node serving the limits stalls (SIGSTOP, a long fork): after the first
timeout, calls are refused at once until that node answers again. The gate's probe used to
PING whichever node redis-py picked, which answered: the gate reopened at once and every
request waited out a timeout of its own for the stalled node."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from gateway.state import LimitCheck, StateUnavailable
from gateway.state.redis.backend import RedisState
from gateway.state.redis.redispy import RedisPyClient
from tests.conditions import eventually
from tests.redis_server import RedisServer
from tests.redis_topologies import Topology, start_cluster
from tests.unit.state.conftest import _started_or_skip

T0 = 1_768_435_200.0
RPM = [LimitCheck("key", "demo", "rpm", 50, 1)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Topology]:
    """A cluster of this test's own: one of its nodes is stopped."""
    topology = _started_or_skip(lambda: start_cluster(tmp_path))
    yield topology
    topology.stop()


def _limits_node(topology: Topology) -> RedisServer:
    slot = key_slot(b"llmgw:{limits}:rpm:key:demo")
    with redis.Redis(port=topology.servers[0].port, socket_timeout=5) as client:
        for first, last, (_, port, *_), *_ in client.cluster("SLOTS"):
            if first <= slot <= last:
                return next(s for s in topology.servers if s.port == int(port))
    raise AssertionError("no node serves the limits' slot")


async def test_a_stalled_limits_node_keeps_the_gate_closed(cluster: Topology) -> None:
    node = _limits_node(cluster)
    options = dataclasses.replace(cluster.options, timeout_s=0.25, connect_timeout_s=1.0)
    state = RedisState(options)
    client = state._client
    assert isinstance(client, RedisPyClient)  # a Cluster is served by redis-py
    gate = client.gate
    probed = 0
    probe = gate._probe

    async def counted() -> None:
        nonlocal probed
        try:
            await probe()
        finally:
            probed += 1

    gate._probe = counted
    assert node.process is not None
    try:
        assert (await state.acquire(RPM, T0)).allowed
        os.kill(node.process.pid, signal.SIGSTOP)
        try:
            kinds: list[str] = []

            async def caller() -> None:
                while probed < 5:  # calls go on while the gate probes the stalled node
                    try:
                        await state.acquire(RPM, T0)
                        kinds.append("allowed")
                    except StateUnavailable as exc:
                        kinds.append(exc.kind)
                    await asyncio.sleep(0.01)

            await asyncio.gather(*(caller() for _ in range(4)))
            # Those in flight when it stalled waited out one timeout; every later call was
            # refused at once (none reached the stalled node: no "allowed" either).
            assert kinds.count("timeout") <= 4, kinds
            assert set(kinds) == {"timeout", "down"}, kinds
        finally:
            os.kill(node.process.pid, signal.SIGCONT)
        assert await eventually(state.ping, 20.0)  # (the cluster may say CLUSTERDOWN a while)

        async def allowed() -> bool:
            return (await state.acquire(RPM, T0)).allowed

        assert await eventually(allowed, 20.0, ignore=(StateUnavailable,))
    finally:
        await state.aclose()
