"""The limiter's slots freed before the answer's last byte: `free_slots`, then `settle` of the
rest; `settle_before_last_byte`, everything in one write."""

from collections.abc import Sequence

import pytest

from gateway.limits.limiter import Limiter
from gateway.observability.metrics import Metrics
from gateway.state import LimitCheck, MemoryState
from gateway.state.base import Settlement


@pytest.mark.asyncio
async def test_free_slots_frees_the_slot_now_and_settle_the_rest_later() -> None:
    state = MemoryState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [LimitCheck("key", "k", "concurrent", 1, 1), LimitCheck("key", "k", "tpm", 1e6, 30)]
    held = await limiter.acquire(checks)
    limiter.free_slots(held)
    limiter.free_slots(held)  # once only
    assert await state.usage("key", "k", 1000.0) == {
        "requests_1m": 0,
        "tokens_1m": 30,  # still the reservation: settled with the request
        "concurrent": 0,
    }
    assert (await limiter.acquire(checks)) is not None  # the slot is free
    limiter.settle(held, 12, 0.0, ())
    assert (await state.usage("key", "k", 1000.0))["tokens_1m"] == 42


@pytest.mark.asyncio
async def test_settle_after_free_slots_settles_the_budget_once_and_keeps_other_slots() -> None:
    state = MemoryState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [
        LimitCheck("key", "k", "concurrent", 2, 1),
        LimitCheck("key", "k", "rpm", 100, 1),
        LimitCheck("key", "k", "budget_day", 10.0, 0.5),
    ]
    first = await limiter.acquire(checks)
    second = await limiter.acquire(checks)
    assert first is not None and second is not None
    assert first.slots == (checks[0],) and first.budgeted == frozenset({("key", "k")})
    limiter.free_slots(first)
    limiter.settle(first, 12, 0.2, (("key", "k"), ("team", "t")))
    assert (await state.usage("key", "k", 1000.0))["concurrent"] == 1  # the second's slot
    # The budgeted key: the first's actual cost and the second's reserved estimate.
    assert (await state.spend("key", "k", 1000.0))["day"] == pytest.approx(0.7)
    assert limiter._spend.totals == {("team", "t"): 0.2}  # the team's spend, summed for later
    limiter.settle(second, 0, 0.0, ())
    assert await state.usage("key", "k", 1000.0) == {
        "requests_1m": 2,
        "tokens_1m": 0,
        "concurrent": 0,
    }


@pytest.mark.asyncio
async def test_settle_before_last_byte_settles_everything_in_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = MemoryState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [
        LimitCheck("key", "k", "concurrent", 1, 1),
        LimitCheck("key", "k", "tpm", 1e6, 30),
        LimitCheck("key", "k", "budget_day", 10.0, 0.5),
    ]
    held = await limiter.acquire(checks)
    assert held is not None
    writes: list[int] = []
    start_settle = state.start_settle

    def counted(settlements: Sequence[Settlement], now: float) -> None:
        writes.append(len(settlements))
        start_settle(settlements, now)

    monkeypatch.setattr(state, "start_settle", counted)
    limiter.settle_before_last_byte(held, 12, 0.2, (("key", "k"), ("team", "t")))
    assert writes == [1]
    assert await state.usage("key", "k", 1000.0) == {
        "requests_1m": 0,
        "tokens_1m": 12,  # reconciled already
        "concurrent": 0,
    }
    assert (await state.spend("key", "k", 1000.0))["day"] == pytest.approx(0.2)
    assert limiter._spend.totals == {("team", "t"): 0.2}
    limiter.free_slots(held)
    limiter.settle(held, 12, 0.2, (("key", "k"), ("team", "t")))  # from finish: nothing left
    assert writes == [1] and limiter._spend.totals == {("team", "t"): 0.2}
