"""State contract, limits: rpm/tpm sliding windows, concurrency slots, all-or-nothing
reservations and an acquire begun now and awaited later. Every test runs once per backend
(memory and redis); time is injected, never slept."""

from __future__ import annotations

import random

import pytest

from gateway.state import AcquireResult, StateBackend
from tests.unit.state.contract import T0, burst, concurrent, record, rpm, settle, tpm

# -- rpm / tpm sliding windows ------------------------------------------------------------------


async def test_rpm_admits_exactly_the_limit_in_a_burst(state: StateBackend) -> None:
    assert await burst(state, [rpm(50)], 200, T0) == 50

    refused = await state.acquire([rpm(50)], T0 + 1)
    assert not refused.allowed and refused.reservation is None
    assert refused.refused is not None and refused.refused.remaining == 0
    assert refused.retry_after_s == pytest.approx(59.0)


async def test_allowed_result_reports_remaining_and_reservation(state: StateBackend) -> None:
    first = await state.acquire([rpm(3)], T0)
    second = await state.acquire([rpm(3)], T0 + 10)
    assert first.allowed and first.refused is None and first.retry_after_s == 0
    assert [r.remaining for r in (first.results[0], second.results[0])] == [2, 1]
    assert second.results[0].reset_s == pytest.approx(50.0)  # when the T0 use leaves the window
    assert second.reservation is not None
    assert second.reservation.at == T0 + 10 and second.reservation.checks == (rpm(3),)


async def test_rpm_no_double_burst_at_the_window_edge(state: StateBackend) -> None:
    assert await burst(state, [rpm(50)], 49, T0 + 59.9) == 49
    # A fixed window would start afresh at 60 and allow 50 more.
    assert await burst(state, [rpm(50)], 50, T0 + 60.1) == 1


async def test_rpm_window_frees_exactly_when_usage_is_60s_old(state: StateBackend) -> None:
    assert await burst(state, [rpm(50)], 50, T0 + 0.5) == 50
    refused = await state.acquire([rpm(50)], T0 + 30)
    assert refused.retry_after_s == pytest.approx(30.5)
    assert not (await state.acquire([rpm(50)], T0 + 60.4)).allowed
    assert await burst(state, [rpm(50)], 60, T0 + 60.5) == 50


async def test_rpm_never_more_than_the_limit_in_any_60s_span(state: StateBackend) -> None:
    rng = random.Random(7)
    times = sorted(T0 + rng.uniform(0, 240) for _ in range(400))
    admitted = [now for now in times if (await state.acquire([rpm(10)], now)).allowed]
    for end in admitted:
        assert sum(1 for t in admitted if end - 60 < t <= end) <= 10
    assert len(admitted) >= 30  # and it does let traffic through: ~10 per minute over 4 minutes


async def test_retry_after_is_honest(state: StateBackend) -> None:
    await burst(state, [rpm(5)], 2, T0)
    await burst(state, [rpm(5)], 3, T0 + 20.25)
    refused = await state.acquire([rpm(5)], T0 + 30)
    assert refused.retry_after_s == pytest.approx(30.0)
    assert not (await state.acquire([rpm(5)], T0 + 30 + refused.retry_after_s - 0.01)).allowed
    assert (await state.acquire([rpm(5)], T0 + 30 + refused.retry_after_s)).allowed


async def test_tpm_reserves_amounts_and_settle_reconciles(state: StateBackend) -> None:
    first = await state.acquire([tpm(1000, 600)], T0)
    assert first.allowed and first.results[0].remaining == 400
    refused = await state.acquire([tpm(1000, 600)], T0 + 1)
    assert not refused.allowed and refused.results[0].remaining == 400

    await settle(state, first, T0 + 2, tokens=100)  # used far fewer tokens than estimated
    assert (await state.usage("key", "demo", T0 + 2))["tokens_1m"] == 100
    second = await state.acquire([tpm(1000, 600)], T0 + 3)
    assert second.allowed and second.results[0].remaining == 300

    await settle(state, second, T0 + 4, tokens=850)  # and more than estimated
    assert (await state.usage("key", "demo", T0 + 4))["tokens_1m"] == 950


async def test_tpm_request_larger_than_the_limit_is_refused(state: StateBackend) -> None:
    result = await state.acquire([tpm(1000, 1500)], T0)
    assert not result.allowed and result.retry_after_s == pytest.approx(60.0)


async def test_release_undoes_window_reservations(state: StateBackend) -> None:
    result = await state.acquire([rpm(1), tpm(100, 80)], T0)
    assert not (await state.acquire([rpm(1)], T0 + 1)).allowed
    assert result.reservation is not None
    await state.release(result.reservation, T0 + 1)
    assert await state.usage("key", "demo", T0 + 1) == {
        "requests_1m": 0,
        "tokens_1m": 0,
        "concurrent": 0,
    }
    assert (await state.acquire([rpm(1), tpm(100, 80)], T0 + 1)).allowed


# -- concurrency ---------------------------------------------------------------------------------


async def test_concurrent_slots_acquire_settle_release(state: StateBackend) -> None:
    a = await state.acquire([concurrent(2)], T0)
    b = await state.acquire([concurrent(2)], T0)
    assert a.allowed and b.allowed and b.results[0].remaining == 0
    full = await state.acquire([concurrent(2)], T0)
    assert not full.allowed and full.retry_after_s > 0
    assert (await state.usage("key", "demo", T0))["concurrent"] == 2

    await settle(state, a, T0 + 1)
    c = await state.acquire([concurrent(2)], T0 + 1)
    assert c.allowed
    assert b.reservation is not None and c.reservation is not None
    await state.release(b.reservation, T0 + 2)
    await settle(state, c, T0 + 2)
    await settle(state, c, T0 + 2)  # settling twice never goes below zero
    assert (await state.usage("key", "demo", T0 + 2))["concurrent"] == 0
    assert await burst(state, [concurrent(2)], 5, T0 + 3) == 2


async def test_leaked_concurrency_slots_expire(state: StateBackend) -> None:
    assert await burst(state, [concurrent(1)], 3, T0) == 1  # and never settled
    assert not (await state.acquire([concurrent(1)], T0 + 60)).allowed
    assert (await state.acquire([concurrent(1)], T0 + 601)).allowed


# -- all or nothing ------------------------------------------------------------------------------


async def test_a_refused_check_reserves_nothing_anywhere(state: StateBackend) -> None:
    team_full = await state.acquire([rpm(1, "qa", "team")], T0)
    assert team_full.allowed
    checks = [rpm(10), tpm(1000, 100), concurrent(1), rpm(1, "qa", "team")]
    result = await state.acquire(checks, T0 + 1)
    assert not result.allowed and result.reservation is None
    assert [r.allowed for r in result.results] == [True, True, True, False]
    assert result.refused is not None and result.refused.check.scope == "team"
    assert result.retry_after_s == pytest.approx(59.0)
    assert await state.usage("key", "demo", T0 + 1) == {
        "requests_1m": 0,
        "tokens_1m": 0,
        "concurrent": 0,
    }


async def test_empty_check_list_is_allowed(state: StateBackend) -> None:
    result = await state.acquire([], T0)
    assert result.allowed and result.results == () and result.reservation is not None


# -- begun now, awaited later --------------------------------------------------------------------


def _outcome(result: AcquireResult) -> tuple[object, ...]:
    """What an acquire decided, without the subjects and the token."""
    verdicts = [(r.allowed, r.remaining, r.reset_s) for r in result.results]
    reserved = (
        (result.reservation.at, len(result.reservation.checks)) if result.reservation else None
    )
    return result.allowed, verdicts, result.retry_after_s, dict(result.breakers), reserved


async def test_begin_acquire_gives_what_acquire_gives(state: StateBackend) -> None:
    await record(state, False, T0)
    for step in range(4):  # allowed twice (tpm 2 x 400 of 1000), then refused
        now = T0 + step
        begun = await state.begin_acquire([rpm(3, "a"), tpm(1000, 400, "a")], now, ["dep-a"])
        awaited = await state.acquire([rpm(3, "b"), tpm(1000, 400, "b")], now, ["dep-a"])
        assert _outcome(begun) == _outcome(awaited), step
        assert begun.allowed == (step < 2) and begun.breakers["dep-a"].failures == 1
    assert (await state.usage("key", "a", T0 + 4)) == {
        "requests_1m": 2,
        "tokens_1m": 800,
        "concurrent": 0,
    }
    no_checks = await state.begin_acquire([], T0, ["dep-a"])
    assert _outcome(no_checks) == _outcome(await state.acquire([], T0, ["dep-a"]))
    assert no_checks.allowed and no_checks.breakers["dep-a"].failures == 1


async def test_begin_acquire_reserves_before_it_is_awaited(state: StateBackend) -> None:
    """The check-and-reserve has reached the store before the caller's first await: a call made
    after it, and answered before its verdict is read, already sees the slot taken."""
    if getattr(state, "client_name", None) == "redis-py":
        pytest.skip("redis-py writes on the next loop turn, on a pooled connection: no order")
    await state.ping()  # connected: a backend that connects does so on its first call
    pending = state.begin_acquire([concurrent(1)], T0)
    assert (await state.usage("key", "demo", T0))["concurrent"] == 1
    result = await pending
    assert result.allowed and result.reservation is not None
    await state.release(result.reservation, T0)
    assert (await state.usage("key", "demo", T0))["concurrent"] == 0


async def test_begin_acquire_on_a_backend_not_yet_connected(state: StateBackend) -> None:
    pending = state.begin_acquire([concurrent(1)], T0)  # the first call: nothing connected yet
    assert (await pending).allowed
    assert not (await state.begin_acquire([concurrent(1)], T0)).allowed
