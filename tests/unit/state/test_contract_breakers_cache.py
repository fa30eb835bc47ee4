"""State contract, the key-value cache and circuit breakers (and ping). Every test runs once per
backend (memory and redis); time is injected, never slept."""

from __future__ import annotations

import asyncio

import pytest

from gateway.state import StateBackend
from tests.unit.state.contract import T0, record

# -- key-value cache -----------------------------------------------------------------------------


async def test_kv_honours_the_injected_clock(state: StateBackend) -> None:
    assert await state.get("k1", T0) is None
    await state.set("k1", b"value", ttl_s=10, now=T0)
    assert await state.get("k1", T0 + 9.9) == b"value"
    assert await state.get("k1", T0 + 10) is None

    await state.set("k2", b"\x00binary\xff", ttl_s=30, now=T0)
    await state.set("k2", b"newer", ttl_s=30, now=T0 + 1)
    assert await state.get("k2", T0 + 2) == b"newer"
    await state.delete("k2")
    assert await state.get("k2", T0 + 2) is None
    await state.delete("never-set")


# -- circuit breakers ----------------------------------------------------------------------------


async def test_breaker_opens_half_opens_probes_and_closes(state: StateBackend) -> None:
    assert await record(state, False, T0) == "closed"
    assert await record(state, False, T0 + 1) == "closed"
    states = await state.breaker_states(["dep-a", "dep-b"], T0 + 2)
    assert states["dep-a"].failures == 2 and states["dep-b"].state == "closed"
    assert await record(state, False, T0 + 2) == "open"

    opened = (await state.breaker_states(["dep-a"], T0 + 12))["dep-a"]
    assert opened.state == "open" and opened.cooldown_remaining_s == pytest.approx(20)
    assert not await state.breaker_try_probe("dep-a", T0 + 12, probe_timeout_s=5)

    assert (await state.breaker_states(["dep-a"], T0 + 32))["dep-a"].state == "half_open"
    assert await state.breaker_try_probe("dep-a", T0 + 32, probe_timeout_s=5)
    assert not await state.breaker_try_probe("dep-a", T0 + 33, probe_timeout_s=5)
    assert await record(state, True, T0 + 34) == "closed"
    closed = (await state.breaker_states(["dep-a"], T0 + 34))["dep-a"]
    assert closed.failures == 0 and closed.cooldown_remaining_s == 0
    assert await state.breaker_try_probe("dep-a", T0 + 34, probe_timeout_s=5)  # closed: go


async def test_breaker_failed_probe_reopens(state: StateBackend) -> None:
    for i in range(3):
        await record(state, False, T0 + i)
    assert await state.breaker_try_probe("dep-a", T0 + 40, probe_timeout_s=5)
    assert await record(state, False, T0 + 41) == "open"
    reopened = (await state.breaker_states(["dep-a"], T0 + 41))["dep-a"]
    assert reopened.cooldown_remaining_s == pytest.approx(30)
    assert not await state.breaker_try_probe("dep-a", T0 + 50, probe_timeout_s=5)
    assert await state.breaker_try_probe("dep-a", T0 + 71, probe_timeout_s=5)
    # The probe never reports back: another caller may probe once the probe timeout passed.
    assert not await state.breaker_try_probe("dep-a", T0 + 75, probe_timeout_s=5)
    assert await state.breaker_try_probe("dep-a", T0 + 76, probe_timeout_s=5)


async def test_breaker_counts_failures_only_inside_the_window(state: StateBackend) -> None:
    for at in (0, 6, 12, 18, 24):  # never 3 within 10 s
        assert await record(state, False, T0 + at) == "closed"
    assert (await state.breaker_states(["dep-a"], T0 + 24))["dep-a"].failures == 2
    assert await record(state, True, T0 + 25) == "closed"
    assert (await state.breaker_states(["dep-a"], T0 + 25))["dep-a"].failures == 0


async def test_breaker_ignores_a_late_success_while_open(state: StateBackend) -> None:
    for i in range(3):
        await record(state, False, T0 + i)
    assert await record(state, True, T0 + 5) == "open"


async def test_only_one_probe_under_concurrency(state: StateBackend) -> None:
    for i in range(3):
        await record(state, False, T0 + i)
    won = await asyncio.gather(
        *(state.breaker_try_probe("dep-a", T0 + 40, probe_timeout_s=5) for _ in range(25))
    )
    assert sum(won) == 1


async def test_ping(state: StateBackend) -> None:
    assert await state.ping()


# -- remembered values ---------------------------------------------------------------------------


async def test_remembered_values_expire_and_stay_apart_from_the_cache(state: StateBackend) -> None:
    assert await state.recall("resp_1", T0) is None
    await state.remember("resp_1", b'{"deployment":"a"}', ttl_s=60, now=T0)
    await state.set("resp_1", b"cache", ttl_s=60, now=T0)
    await state.delete("resp_1")
    assert await state.recall("resp_1", T0 + 59.9) == b'{"deployment":"a"}'
    assert await state.recall("resp_1", T0 + 60) is None
    await state.remember("resp_2", b"x", ttl_s=60, now=T0)
    await state.forget("resp_2")
    assert await state.recall("resp_2", T0 + 1) is None
    assert await state.get("resp_2", T0 + 1) is None
    await state.forget("never-remembered")
