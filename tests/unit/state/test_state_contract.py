"""The state contract: both backends (memory and redis) must pass every test here.

Time is injected (`now`), never slept: T0 is a whole second, 2026-01-15 00:00:00 UTC.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest

from gateway.state import (
    AcquireResult,
    LimitCheck,
    MemoryState,
    Settlement,
    StateBackend,
)

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z
DAY = 86_400.0


def rpm(limit: float, subject: str = "demo", scope: str = "key") -> LimitCheck:
    return LimitCheck(scope, subject, "rpm", limit, 1)


def tpm(limit: float, amount: float, subject: str = "demo") -> LimitCheck:
    return LimitCheck("key", subject, "tpm", limit, amount)


def concurrent(limit: float, subject: str = "demo") -> LimitCheck:
    return LimitCheck("key", subject, "concurrent", limit, 1)


def budget(kind: str, limit: float, subject: str = "demo", scope: str = "key") -> LimitCheck:
    return LimitCheck(scope, subject, kind, limit, 0)  # type: ignore[arg-type]


async def burst(state: StateBackend, checks: Sequence[LimitCheck], n: int, now: float) -> int:
    results = await asyncio.gather(*(state.acquire(checks, now) for _ in range(n)))
    return sum(result.allowed for result in results)


async def settle(
    state: StateBackend,
    result: AcquireResult,
    now: float,
    *,
    tokens: int = 0,
    cost: float = 0.0,
    extra: tuple[tuple[str, str], ...] = (),
) -> None:
    assert result.reservation is not None
    await state.settle([Settlement(result.reservation, tokens, cost, extra)], now)


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


# -- budgets and spend ---------------------------------------------------------------------------


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


async def record(state: StateBackend, ok: bool, now: float, name: str = "dep-a") -> str:
    result = await state.breaker_record(
        name, ok, now, failure_threshold=3, window_s=10, cooldown_s=30
    )
    return result.state


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


# -- memory only ---------------------------------------------------------------------------------


async def test_memory_cache_is_lru_bounded_by_entries() -> None:
    state = MemoryState(max_entries=3)
    for key in ("a", "b", "c"):
        await state.set(key, b"x", 60, T0)
    assert await state.get("a", T0) == b"x"  # now "b" is the least recently used
    await state.set("d", b"x", 60, T0)
    assert await state.get("b", T0) is None
    assert [await state.get(k, T0) for k in ("a", "c", "d")] == [b"x"] * 3


async def test_memory_cache_is_lru_bounded_by_bytes() -> None:
    state = MemoryState(max_bytes=100)
    await state.set("a", b"1" * 40, 60, T0)
    await state.set("b", b"2" * 40, 60, T0)
    await state.set("c", b"3" * 40, 60, T0)  # 3 * 41 bytes > 100: "a" goes
    assert await state.get("a", T0) is None and await state.get("c", T0) == b"3" * 40
    await state.set("huge", b"4" * 200, 60, T0)  # larger than the whole cache: not kept
    assert await state.get("huge", T0) is None and await state.get("b", T0) is not None
    assert state.cache.bytes <= 100


async def test_memory_cache_drops_expired_entries_lazily() -> None:
    state = MemoryState()
    await state.set("a", b"x", 1, T0)
    assert len(state.cache) == 1
    assert await state.get("a", T0 + 2) is None
    assert len(state.cache) == 0
