"""`[state] key_prefix` on a real Redis: two gateways with different prefixes on one server (a
Cluster, a Sentinel-managed primary) share no counter, breaker, cache entry, remembered value or
semantic cache vector; the default prefix keeps the key names every earlier version wrote, so an
upgrade keeps its counters."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import redis

from gateway.state import LimitCheck, Settlement
from gateway.state.redis.backend import RedisState
from tests.unit.state.conftest import backend_options

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z
RPM_1 = [LimitCheck("key", "demo", "rpm", 1, 1)]
SHAPES = ["redis-resp", "redis-py", "cluster", "sentinel"]


def stored_keys(request: pytest.FixtureRequest, shape: str) -> set[str]:
    """Every key on the server (on each data node of a Cluster or a Sentinel deployment)."""
    if shape in ("cluster", "sentinel"):
        urls = request.getfixturevalue(f"{shape}_topology").admin_urls
    else:
        urls = [request.getfixturevalue("redis_url")]
    found: set[str] = set()
    for url in urls:
        with redis.Redis.from_url(url, socket_timeout=5) as client:
            found |= {key.decode() for key in client.keys("*")}
    return found


@pytest.fixture(params=SHAPES)
async def gateways(request: pytest.FixtureRequest) -> AsyncIterator[tuple[RedisState, RedisState]]:
    """A staging and a production backend on the same Redis."""
    options = backend_options(request, request.param)
    staging = RedisState(dataclasses.replace(options, key_prefix="staging"))
    production = RedisState(dataclasses.replace(options, key_prefix="production"))
    yield staging, production
    await staging.aclose()
    await production.aclose()


async def test_rate_limits_and_spend_of_one_gateway_leave_the_other_alone(
    gateways: tuple[RedisState, RedisState],
) -> None:
    staging, production = gateways
    first = await staging.acquire(RPM_1, T0)
    assert first.allowed and first.reservation is not None
    assert (await production.acquire(RPM_1, T0 + 0.5)).allowed  # its own counter
    assert not (await staging.acquire(RPM_1, T0 + 0.5)).allowed  # staging's still counts
    assert (await production.usage("key", "demo", T0 + 1))["requests_1m"] == 1

    budget = [LimitCheck("key", "demo", "budget_day", 5, 0)]
    spent = await staging.acquire(budget, T0 + 1)
    assert spent.reservation is not None
    await staging.settle([Settlement(spent.reservation, 0, 2.5)], T0 + 2)
    assert (await staging.spend("key", "demo", T0 + 2))["day"] == 2.5
    assert (await production.spend("key", "demo", T0 + 2)) == {
        "day": 0.0,
        "month": 0.0,
        "total": 0.0,
    }


async def test_a_breaker_tripped_by_one_gateway_stays_closed_in_the_other(
    gateways: tuple[RedisState, RedisState],
) -> None:
    staging, production = gateways
    for i in range(3):
        await staging.breaker_record("dep", False, T0 + i, 3, 10, 30)
    assert (await staging.breaker_states(["dep"], T0 + 3))["dep"].state == "open"
    assert (await production.breaker_states(["dep"], T0 + 3))["dep"].state == "closed"
    # The breaker reads that travel with an acquire, and the probe, see their own too.
    seen = await production.acquire(RPM_1, T0 + 3, ["dep"])
    assert seen.breakers["dep"].state == "closed"
    assert (await staging.acquire(RPM_1, T0 + 3, ["dep"])).breakers["dep"].state == "open"
    # A probe taken through production's breaker does not take staging's one probe.
    await production.breaker_try_probe("dep", T0 + 40, 5)
    assert await staging.breaker_try_probe("dep", T0 + 40, 5)
    assert not await staging.breaker_try_probe("dep", T0 + 40, 5)


async def test_cache_and_remembered_values_are_each_gateways_own(
    gateways: tuple[RedisState, RedisState],
) -> None:
    staging, production = gateways
    await staging.set("abc123", b"a staging answer", ttl_s=60, now=T0)
    assert await production.get("abc123", T0) is None
    await production.set("abc123", b"a production answer", ttl_s=60, now=T0)
    assert await staging.get("abc123", T0) == b"a staging answer"
    await staging.delete("abc123")
    assert await production.get("abc123", T0) == b"a production answer"

    await staging.remember("response:r1", b"staging conversation", ttl_s=60, now=T0)
    assert await production.recall("response:r1", T0) is None
    await production.forget("response:r1")
    assert await staging.recall("response:r1", T0) == b"staging conversation"

    _, cursor = await production.read_shared_vectors(None)
    await staging.share_vector(b"a staging vector", ttl_s=60)
    assert await production.read_shared_vectors(cursor) == ([], cursor)


@pytest.mark.parametrize("shape", SHAPES)
async def test_every_key_starts_with_the_gateways_prefix(
    request: pytest.FixtureRequest, shape: str
) -> None:
    options = backend_options(request, shape)
    state = RedisState(dataclasses.replace(options, key_prefix="team-a"))
    try:
        await _write_one_of_each(state)
    finally:
        await state.aclose()
    keys = stored_keys(request, shape)
    assert keys and all(key.startswith("team-a:{") for key in keys), keys


@pytest.mark.parametrize("shape", SHAPES)
async def test_the_default_prefix_keeps_the_key_names_of_earlier_versions(
    request: pytest.FixtureRequest, shape: str
) -> None:
    state = RedisState(backend_options(request, shape))
    try:
        await _write_one_of_each(state)
    finally:
        await state.aclose()
    keys = stored_keys(request, shape)
    receipts = {key for key in keys if key.startswith("llmgw:{limits}:s:")}
    assert len(receipts) == 1
    assert keys - receipts == {
        "llmgw:{limits}:rpm:key:demo",
        "llmgw:{limits}:tpm:key:demo",
        "llmgw:{limits}:concurrent:key:demo",
        "llmgw:{limits}:spend:key:demo:day:2026-01-15",
        "llmgw:{limits}:spend:key:demo:month:2026-01",
        "llmgw:{limits}:spend:key:demo:total",
        "llmgw:{breakers}:dep",
        "llmgw:{cache:abc123}",
        "llmgw:{remembered:response:r1}",
        "llmgw:{semantic}:vectors",
    }


async def _write_one_of_each(state: RedisState) -> None:
    checks = [
        LimitCheck("key", "demo", "rpm", 10, 1),
        LimitCheck("key", "demo", "tpm", 1000, 10),
        LimitCheck("key", "demo", "concurrent", 2, 1),
        LimitCheck("key", "demo", "budget_day", 5, 0),
    ]
    acquired = await state.acquire(checks, T0)
    assert acquired.reservation is not None
    await state.settle([Settlement(acquired.reservation, 10, 0.5)], T0 + 1)
    await state.set("abc123", b"cached", ttl_s=60, now=T0)
    await state.remember("response:r1", b"remembered", ttl_s=60, now=T0)
    await state.breaker_record("dep", False, T0, 3, 10, 30)
    await state.share_vector(b"a vector", ttl_s=60)
