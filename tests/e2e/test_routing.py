"""Routing against real mock-provider processes: strategies, weights, canaries (failures and
fallbacks: test_routing_failover.py).

These check the wiring (the right deployment serves, headers and records say which, state is
shared across replicas). The statistics of the splits are checked on the pure functions that
decide them, in tests/unit/routing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from gateway.config.types import DeploymentConfig
from gateway.routing.picking import sticky_point
from gateway.routing.strategies import Candidate, weighted_by_point
from tests.e2e.routing_support import (
    chat,
    fire,
    model,
    post,
    provider,
    recorded_deployments,
    run_gateway,
    served_by,
)
from tests.procs import Proc, start_mock_provider


@pytest.fixture(scope="module")
def fast(mock_upstream: Proc) -> Proc:
    return mock_upstream


@pytest.fixture(scope="module")
def slow() -> Iterator[Proc]:
    proc = start_mock_provider(latency_ms=60)
    yield proc
    proc.stop()


CANARY_SIDES = {"stable": 90, "candidate": 10}


@pytest.fixture(scope="module")
def balancing(tmp_path_factory: pytest.TempPathFactory, fast: Proc, slow: Proc) -> Iterator[Proc]:
    body = provider("fast", fast) + provider("slow", slow)
    body += model(
        "weighted", [("fast", "w-three", {"weight": 3}), ("fast", "w-one", {"weight": 1})]
    )
    body += model(
        "rr",
        [("fast", "rr-a", {}), ("fast", "rr-b", {}), ("fast", "rr-c", {})],
        strategy="round_robin",
    )
    body += model("busy", [("fast", "lb-fast", {}), ("slow", "lb-slow", {})], strategy="least_busy")
    body += model(
        "latency", [("fast", "ll-fast", {}), ("slow", "ll-slow", {})], strategy="lowest_latency"
    )
    body += model(
        "canary",
        [("fast", side, {"weight": weight}) for side, weight in CANARY_SIDES.items()],
        sticky="user",
    )
    proc = run_gateway(tmp_path_factory.mktemp("balancing"), body)
    yield proc
    proc.stop()


def test_weighted_model_serves_from_both_deployments(balancing: Proc) -> None:
    # 64 draws at a 1/4 share miss a side with probability 0.75**64 (about 1e-8); the split
    # itself is measured in tests/unit/routing/test_strategies.py.
    responses = asyncio.run(fire(balancing.url, [chat("weighted")] * 64, concurrency=8))
    sides = served_by(responses)
    assert set(sides) == {"fast/w-three", "fast/w-one"}, Counter(sides)
    assert recorded_deployments(balancing, responses) == sides


def test_round_robin_is_exact(balancing: Proc) -> None:
    order = [post(balancing, chat("rr")).headers["x-gateway-deployment"] for _ in range(12)]
    first = order[:3]
    assert sorted(first) == ["fast/rr-a", "fast/rr-b", "fast/rr-c"]
    assert order == first * 4


def test_least_busy_prefers_the_idle_provider(balancing: Proc) -> None:
    counts = Counter(
        served_by(asyncio.run(fire(balancing.url, [chat("busy")] * 200, concurrency=16)))
    )
    assert counts["fast/lb-fast"] > 2 * counts["slow/lb-slow"], counts


def test_lowest_latency_prefers_the_fast_provider(balancing: Proc) -> None:
    asyncio.run(fire(balancing.url, [chat("latency")] * 10, concurrency=1))  # measure both
    counts = Counter(
        served_by(asyncio.run(fire(balancing.url, [chat("latency")] * 100, concurrency=4)))
    )
    assert counts["fast/ll-fast"] >= 90, counts


def test_canary_sticks_each_user_to_the_side_its_hash_picks(balancing: Proc) -> None:
    users = [f"user-{i}" for i in range(40)]
    sides = [Candidate(DeploymentConfig("fast", m, weight=w)) for m, w in CANARY_SIDES.items()]
    expected = [
        "fast/" + weighted_by_point(sides, sticky_point("canary", user)).deployment.model
        for user in users
    ]
    assert set(expected) == {"fast/stable", "fast/candidate"}, "these users cover both sides"
    bodies = [chat("canary", user=user) for user in users]
    first = asyncio.run(fire(balancing.url, bodies, concurrency=8))
    assert served_by(first) == expected
    assert recorded_deployments(balancing, first) == expected
    again = asyncio.run(fire(balancing.url, bodies, concurrency=8))
    assert served_by(again) == expected, "the same user stays on the same side"
