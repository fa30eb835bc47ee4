"""State contract, budgets and spend: day and month budgets, spend totals, batched
settlements. Every test runs once per backend (memory and redis); time is injected."""

from __future__ import annotations

import pytest

from gateway.state import Settlement, StateBackend
from tests.unit.state.contract import DAY, T0, budget, concurrent, rpm, settle, tpm


async def test_day_budget_refuses_once_spend_reaches_the_limit(state: StateBackend) -> None:
    day = [budget("budget_day", 1.0)]
    first = await state.acquire(day, T0 + 3600)
    assert first.allowed and first.results[0].remaining == 1.0
    assert first.results[0].reset_s == pytest.approx(DAY - 3600)
    await settle(state, first, T0 + 3600, cost=0.6)

    second = await state.acquire(day, T0 + 7200)
    assert second.allowed and second.results[0].remaining == pytest.approx(0.4)
    await settle(state, second, T0 + 7200, cost=0.4)

    refused = await state.acquire(day, T0 + 10800)
    assert not refused.allowed and refused.results[0].remaining == 0
    assert refused.retry_after_s == pytest.approx(DAY - 10800)  # next UTC midnight
    assert (await state.acquire(day, T0 + DAY)).allowed  # a new day


async def test_month_budget_spans_days_and_resets_with_the_month(state: StateBackend) -> None:
    month = [budget("budget_month", 2.0)]
    for day_index in range(3):
        result = await state.acquire(month, T0 + day_index * DAY)
        assert result.allowed
        await settle(state, result, T0 + day_index * DAY, cost=0.75)
    refused = await state.acquire(month, T0 + 3 * DAY)
    assert not refused.allowed and refused.results[0].remaining == 0
    feb_1 = 1_769_904_000.0  # 2026-02-01T00:00:00Z
    assert refused.retry_after_s == pytest.approx(feb_1 - (T0 + 3 * DAY))
    assert (await state.acquire(month, feb_1)).allowed


async def test_spend_totals_per_subject(state: StateBackend) -> None:
    checks = [budget("budget_day", 10.0), budget("budget_month", 50.0), rpm(100)]
    for now in (T0 + 10, T0 + 20):
        result = await state.acquire(checks, now)
        await settle(state, result, now, cost=0.25, extra=(("team", "qa"), ("key", "demo")))
    assert await state.spend("key", "demo", T0 + 30) == pytest.approx(
        {"day": 0.5, "month": 0.5, "total": 0.5}
    )

    result = await state.acquire([rpm(100)], T0 + DAY)  # tomorrow, no budget check
    await settle(state, result, T0 + DAY, cost=1.0, extra=(("key", "demo"),))
    assert await state.spend("key", "demo", T0 + DAY) == pytest.approx(
        {"day": 1.0, "month": 1.5, "total": 1.5}
    )
    assert await state.spend("team", "qa", T0 + DAY) == pytest.approx(
        {"day": 0.0, "month": 0.5, "total": 0.5}
    )
    assert await state.spend("team", "nobody", T0) == {"day": 0.0, "month": 0.0, "total": 0.0}


async def test_settle_takes_a_batch(state: StateBackend) -> None:
    checks = [concurrent(5), tpm(10_000, 500), budget("budget_day", 5.0)]
    results = [await state.acquire(checks, T0) for _ in range(3)]
    await state.settle(
        [Settlement(r.reservation, 100, 0.5) for r in results if r.reservation], T0 + 1
    )
    assert await state.usage("key", "demo", T0 + 1) == {
        "requests_1m": 0,
        "tokens_1m": 300,
        "concurrent": 0,
    }
    assert (await state.spend("key", "demo", T0 + 1))["day"] == pytest.approx(1.5)
    await state.settle([], T0 + 1)
