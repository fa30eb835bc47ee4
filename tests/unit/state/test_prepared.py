"""Prepared plans (`StateBackend.prepare`): the same verdicts, rate-header figures and counts as
`acquire` and `settle`, step for step; counters the state drops while idle are bound again, so
the prepared path and `acquire` never count apart; only rpm, tpm and concurrency checks on
counters of their own are prepared, and Redis prepares none."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from gateway.state import LimitCheck, MemoryState, Settlement, StateBackend
from gateway.state.memory_prepared import OneOfEach
from gateway.state.prepared import PreparedChecks, PreparedHold
from tests.unit.state.contract import T0, budget, concurrent, rpm, tpm

HOLD_S = 30.0


def team_plan(tokens: float = 0) -> list[LimitCheck]:
    """A key's rpm, tpm and concurrency and its team's rpm (tokens: the tpm amount)."""
    return [rpm(20), tpm(500, tokens), concurrent(3), rpm(25, "perf", "team")]


def key_plan(tokens: float = 0) -> list[LimitCheck]:
    """The usual plan: a key's rpm, tpm and concurrency alone (`OneOfEach`)."""
    return [tpm(500, tokens), rpm(20), concurrent(3)]


def key_rates(tokens: float = 0) -> list[LimitCheck]:
    """A key's rpm and tpm, no concurrency (`OneOfEach` without slots)."""
    return [rpm(20), tpm(500, tokens)]


Plan = Callable[[float], list[LimitCheck]]


def prepared(state: MemoryState, checks: list[LimitCheck]) -> PreparedChecks:
    made = state.prepare(checks)
    assert made is not None
    return made


async def usage(state: MemoryState, now: float) -> list[dict[str, float]]:
    return [await state.usage("key", "demo", now), await state.usage("team", "perf", now)]


@pytest.mark.parametrize("plan", [team_plan, key_plan, key_rates], ids=["team", "key", "rates"])
async def test_a_prepared_plan_decides_and_counts_as_acquire_does(plan: Plan) -> None:
    """Two states, one driven through `acquire`/`settle`, one through the prepared plan, with
    the same random requests: refusals, figures and usage agree at every step, across idle
    minutes whose windows and slots the state drops. Run on the general path (the team's rpm
    too) and on the usual plan's written-out one (`OneOfEach`)."""
    rng = random.Random(7)
    direct, fast = MemoryState(), MemoryState()
    checks = prepared(fast, plan(0))
    assert isinstance(checks, OneOfEach) == (plan is not team_plan)  # the path meant
    now = T0
    outstanding: list[tuple[Settlement, PreparedHold]] = []
    allowed = refused = 0
    for _ in range(600):
        now += rng.choice([0.0, 0.1, 0.5, 1.0, 2.5]) if rng.random() < 0.97 else 75.0
        if outstanding and rng.random() < 0.4:
            settlement, held = outstanding.pop(rng.randrange(len(outstanding)))
            actual = rng.randrange(0, 160)
            await direct.settle([Settlement(settlement.reservation, actual, 0.0)], now)
            checks.settle(held, actual)
        else:
            tokens = rng.randrange(1, 120)
            result = await direct.acquire(plan(tokens), now, hold_s=HOLD_S)
            hold = checks.acquire(tokens, now, HOLD_S, ())
            assert result.allowed == (hold is not None)
            if hold is not None and result.reservation is not None:
                allowed += 1
                # The tightest request window: the key's (20) or the team's (25), the first of
                # equals as the plan lists them.
                tightest = min(
                    (r for r in result.results if r.check.kind == "rpm"),
                    key=lambda r: r.remaining,
                )
                assert hold.requests is not None and hold.tokens_window is not None
                assert hold.requests == (
                    tightest.check.limit,
                    tightest.remaining,
                    tightest.reset_s,
                )
                (tokens_result,) = (r for r in result.results if r.check.kind == "tpm")
                assert hold.tokens_window == (500, tokens_result.remaining, tokens_result.reset_s)
                outstanding.append((Settlement(result.reservation, 0, 0.0), hold))
            else:
                refused += 1
        assert await usage(direct, now) == await usage(fast, now)
    assert allowed > 100 and refused > 100  # both paths were exercised
    assert fast.generation > 0  # counters were dropped while idle, and bound again


async def test_counters_dropped_while_idle_are_bound_again() -> None:
    state = MemoryState()
    checks = prepared(state, [rpm(2)])
    assert checks.acquire(1, T0, HOLD_S, ()) is not None
    # A window later the window is idle and goes at a prune; `acquire` then makes a new one.
    later = T0 + 200
    assert (await state.acquire([rpm(2)], later)).allowed
    assert ("rpm", "key", "demo") in state._windows
    # The prepared plan counts on that new window, not on the dropped one.
    assert checks.acquire(1, later, HOLD_S, ()) is not None
    assert checks.acquire(1, later, HOLD_S, ()) is None  # 2 of 2 used, one by each path
    assert not (await state.acquire([rpm(2)], later)).allowed


async def test_a_refused_prepared_acquire_reserves_nothing() -> None:
    state = MemoryState()
    checks = prepared(state, [rpm(10), tpm(100, 0), concurrent(1)])
    first = checks.acquire(60, T0, HOLD_S, ())
    assert first is not None
    assert checks.acquire(10, T0, HOLD_S, ()) is None  # the slot is taken
    checks.free_slots(first)
    assert checks.acquire(50, T0, HOLD_S, ()) is None  # 60 + 50 tokens > 100
    assert await state.usage("key", "demo", T0) == {
        "requests_1m": 1.0,
        "tokens_1m": 60.0,
        "concurrent": 0.0,
    }
    checks.settle(first, 20)  # 40 tokens back, in the bucket they were reserved in
    assert (await state.usage("key", "demo", T0))["tokens_1m"] == 20.0
    assert checks.acquire(80, T0, HOLD_S, ()) is not None


async def test_a_prepared_acquire_reads_the_breakers_as_acquire_does() -> None:
    state = MemoryState()
    checks = prepared(state, [rpm(10)])
    hold = checks.acquire(1, T0, HOLD_S, ("dep-a", "dep-b"))
    assert hold is not None
    assert dict(hold.breakers) == await state.breaker_states(["dep-a", "dep-b"], T0)


async def test_a_prepared_acquire_sees_a_breaker_open_after_all_were_closed() -> None:
    """The all-closed views a prepared acquire read are not handed out once a breaker opened."""
    state = MemoryState()
    checks = prepared(state, [rpm(10)])
    assert checks.acquire(1, T0, HOLD_S, ("dep-a", "dep-b")) is not None  # all closed: kept
    for _ in range(3):
        await state.breaker_record("dep-a", False, T0, 3, 30.0, 10.0)
    hold = checks.acquire(1, T0, HOLD_S, ("dep-a", "dep-b"))
    assert hold is not None
    assert hold.breakers["dep-a"].state == "open"
    assert dict(hold.breakers) == await state.breaker_states(["dep-a", "dep-b"], T0)


def test_only_rpm_tpm_and_concurrency_on_counters_of_their_own_are_prepared() -> None:
    state = MemoryState()
    assert state.prepare([rpm(1), tpm(1, 0), concurrent(1)]) is not None
    assert state.prepare([]) is None
    assert state.prepare([rpm(1), budget("budget_day", 5.0)]) is None
    assert state.prepare([rpm(1), rpm(2)]) is None  # one window checked twice


def test_only_the_memory_backend_prepares(state: StateBackend) -> None:
    made = state.prepare(team_plan())
    assert (made is not None) == (state.name == "memory")
