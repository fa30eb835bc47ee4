"""State contract, reservations: budgets reserve the estimated cost, acquires the caller gave up
on (`abandon`) never hold anything, and a reservation lasts its `hold_s`. Every test runs once
per backend (memory and redis); time is injected, never slept."""

from __future__ import annotations

import asyncio

import pytest

from gateway.state import LimitCheck, Reservation, Settlement, StateBackend
from gateway.state.base import new_token
from tests.unit.state.contract import DAY, T0, burst, concurrent, rpm, settle, tpm


def day_budget(limit: float, estimate: float, subject: str = "demo") -> LimitCheck:
    return LimitCheck("key", subject, "budget_day", limit, estimate)


def month_budget(limit: float, estimate: float) -> LimitCheck:
    return LimitCheck("key", "demo", "budget_month", limit, estimate)


async def spent_today(state: StateBackend, now: float) -> float:
    return (await state.spend("key", "demo", now))["day"]


# -- budgets reserve the estimate --------------------------------------------------------------


async def test_a_budget_admits_only_what_its_estimates_fit(state: StateBackend) -> None:
    """Simultaneous requests each reserve their estimate with the check: a budget that fits 5
    admits 5 of 20, not all 20 (the spend so far is 0 for every one of them)."""
    assert await burst(state, [day_budget(1.0, 0.2)], 20, T0) == 5
    assert await spent_today(state, T0) == pytest.approx(1.0)  # reserved, not yet settled
    refused = await state.acquire([day_budget(1.0, 0.2)], T0 + 60)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(DAY - 60)


async def test_settle_replaces_the_estimate_by_the_actual_cost(state: StateBackend) -> None:
    checks = [day_budget(1.0, 0.4), month_budget(5.0, 0.4)]
    first = await state.acquire(checks, T0)
    second = await state.acquire(checks, T0)
    assert first.allowed and second.allowed
    assert second.results[0].remaining == pytest.approx(0.2)
    assert not (await state.acquire(checks, T0)).allowed  # 0.8 reserved: 0.4 more would cross

    await settle(state, first, T0 + 1, cost=0.1)  # far cheaper than estimated
    assert await state.spend("key", "demo", T0 + 1) == pytest.approx(
        {"day": 0.5, "month": 0.5, "total": 0.1}  # day and month hold the reservation in flight
    )
    third = await state.acquire(checks, T0 + 2)
    assert third.allowed and third.results[0].remaining == pytest.approx(0.1)
    await settle(state, second, T0 + 3, cost=0.45)  # dearer than estimated: the actual counts
    await settle(state, third, T0 + 3, cost=0.4)
    assert await state.spend("key", "demo", T0 + 3) == pytest.approx(
        {"day": 0.95, "month": 0.95, "total": 0.95}
    )


async def test_an_estimate_alone_over_the_remaining_budget_is_refused(state: StateBackend) -> None:
    held = await state.acquire([day_budget(1.0, 0.7)], T0 + 3600)
    refused = await state.acquire([day_budget(1.0, 0.5)], T0 + 3600)
    assert held.allowed and not refused.allowed
    assert refused.results[0].remaining == pytest.approx(0.3)
    assert refused.retry_after_s == pytest.approx(DAY - 3600)  # the budget's reset: midnight UTC
    assert (await state.acquire([day_budget(1.0, 0.3)], T0 + 3600)).allowed


async def test_release_takes_the_budget_reservation_back(state: StateBackend) -> None:
    held = await state.acquire([day_budget(1.0, 0.6), rpm(10)], T0)
    assert held.reservation is not None
    await state.release(held.reservation, T0 + 1)
    assert await spent_today(state, T0 + 1) == 0
    assert (await state.acquire([day_budget(1.0, 0.6)], T0 + 2)).allowed


async def test_a_reservation_settled_after_midnight_moves_to_the_new_day(
    state: StateBackend,
) -> None:
    held = await state.acquire([day_budget(1.0, 0.5)], T0 + DAY - 1)
    await settle(state, held, T0 + DAY + 1, cost=0.3)
    assert (await state.spend("key", "demo", T0 + DAY - 1))["day"] == 0  # the estimate left
    assert await state.spend("key", "demo", T0 + DAY + 1) == pytest.approx(
        {"day": 0.3, "month": 0.3, "total": 0.3}
    )


# -- abandoned acquires ------------------------------------------------------------------------


async def test_abandon_undoes_an_acquire_that_ran(state: StateBackend) -> None:
    checks = [concurrent(2), tpm(1000, 400), day_budget(1.0, 0.5), rpm(10)]
    token = new_token()
    assert (await state.acquire(checks, T0, token=token)).allowed
    reservation = Reservation(token, tuple(checks), T0, 30.0)
    await state.abandon([reservation], T0 + 1)
    await state.abandon([reservation], T0 + 1)  # twice: nothing more
    usage = await state.usage("key", "demo", T0 + 1)
    assert usage == {"requests_1m": 0, "tokens_1m": 0, "concurrent": 0}
    assert await spent_today(state, T0 + 1) == 0
    assert await burst(state, [concurrent(2)], 3, T0 + 2) == 2


async def test_an_acquire_abandoned_before_it_ran_reserves_nothing(state: StateBackend) -> None:
    """A stalled Redis runs the acquires the gateway timed out on when it wakes, after or
    before the abandons the gateway sends then: either way nothing stays held."""
    checks = [concurrent(1), rpm(10), tpm(1000, 400), day_budget(1.0, 0.5)]
    token = new_token()
    await state.abandon([Reservation(token, tuple(checks), T0, 30.0)], T0)
    late = await state.acquire(checks, T0, token=token)
    assert not late.allowed and late.reservation is None
    usage = await state.usage("key", "demo", T0)
    assert usage == {"requests_1m": 0, "tokens_1m": 0, "concurrent": 0}
    assert await spent_today(state, T0) == 0
    assert (await state.acquire(checks, T0)).allowed  # another request is not affected


async def test_abandon_leaves_settled_reservations_alone(state: StateBackend) -> None:
    checks = [concurrent(3), tpm(1000, 400), day_budget(1.0, 0.5)]
    held = await state.acquire(checks, T0)
    assert held.reservation is not None
    await state.settle([Settlement(held.reservation, 100, 0.25)], T0 + 1)
    await state.abandon([held.reservation], T0 + 2)
    assert (await state.usage("key", "demo", T0 + 2))["tokens_1m"] == 100
    assert await spent_today(state, T0 + 2) == pytest.approx(0.25)


async def test_an_abandoned_rpm_only_acquire_that_ran_is_undone(state: StateBackend) -> None:
    """An rpm-only acquire has nothing to settle, yet once abandoned after it ran (Redis ran
    it on waking, before the abandon) its request is not counted: the gateway refused it, or
    served it on its own limits. The memory backend, whose acquires are decided before they
    return and so are never abandoned, keeps it counted until it leaves the window."""
    token = new_token()
    assert (await state.acquire([rpm(10)], T0, token=token)).allowed
    await state.abandon([Reservation(token, (rpm(10),), T0, 30.0)], T0 + 1)
    await state.abandon([Reservation(token, (rpm(10),), T0, 30.0)], T0 + 1)  # twice: nothing more
    counted = 1 if state.name == "memory" else 0
    assert (await state.usage("key", "demo", T0 + 1))["requests_1m"] == counted
    assert (await state.usage("key", "demo", T0 + 60))["requests_1m"] == 0


async def test_a_released_or_settled_rpm_only_acquire_is_not_undone_again(
    state: StateBackend,
) -> None:
    """Abandon leaves alone what a release or a settlement already ended (the mark goes)."""
    first, second, other = new_token(), new_token(), new_token()
    for token in (first, second, other):
        assert (await state.acquire([rpm(10)], T0, token=token)).allowed
    await state.release(Reservation(first, (rpm(10),), T0, 30.0), T0 + 1)
    await state.settle([Settlement(Reservation(second, (rpm(10),), T0, 30.0), 0, 0.0)], T0 + 1)
    gone = [Reservation(token, (rpm(10),), T0, 30.0) for token in (first, second)]
    await state.abandon(gone, T0 + 1)
    assert (await state.usage("key", "demo", T0 + 1))["requests_1m"] == 2  # second and other


async def test_many_abandons_in_one_call(state: StateBackend) -> None:
    checks = [concurrent(50), tpm(100_000, 100)]
    tokens = [new_token() for _ in range(40)]
    ran = tokens[::2]
    await asyncio.gather(*(state.acquire(checks, T0, token=token) for token in ran))
    await state.abandon([Reservation(t, tuple(checks), T0, 30.0) for t in tokens], T0 + 1)
    late = await asyncio.gather(*(state.acquire(checks, T0 + 1, token=t) for t in tokens[1::2]))
    assert not any(result.allowed for result in late)
    usage = await state.usage("key", "demo", T0 + 1)
    assert usage["concurrent"] == 0 and usage["tokens_1m"] == 0


# -- how long a reservation holds -----------------------------------------------------------------


async def test_slots_expire_after_the_acquires_hold(state: StateBackend) -> None:
    """The limiter passes the request's deadline (plus a grace) as `hold_s`: a slot a replica
    never settled frees when that request could no longer be running, not after a fixed TTL."""
    assert (await state.acquire([concurrent(1)], T0, hold_s=30.0)).allowed
    assert not (await state.acquire([concurrent(1)], T0 + 29, hold_s=300.0)).allowed
    assert (await state.acquire([concurrent(1)], T0 + 30.5, hold_s=300.0)).allowed
    assert (await state.usage("key", "demo", T0 + 31))["concurrent"] == 1
