"""MemoryState only: its cache is an LRU bounded by entries and by bytes, and drops expired
entries when it meets them; its one-pass acquire counts checks of one call on one counter
together, leaves nothing behind when refused, keeps emptied slots until a prune, and drops
windows whose usage left at a prune."""

from __future__ import annotations

from gateway.state import LimitCheck, MemoryState, Settlement
from gateway.state.memory_spend import USER_SWEEP_S
from gateway.state.periods import DAY_S
from gateway.state.sweep import SWEEP_BATCH
from tests.unit.state.contract import T0, concurrent, record, rpm, settle, tpm


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


async def test_checks_of_one_acquire_on_the_same_counter_count_each_other() -> None:
    state = MemoryState()
    # Two tpm checks on one window (5 + 6 > 10) and two slots of one subject (2 > 1).
    assert not (await state.acquire([tpm(10, 5), tpm(10, 6)], T0)).allowed
    assert not (await state.acquire([concurrent(1), concurrent(1)], T0)).allowed
    both = await state.acquire([tpm(10, 4), tpm(10, 6), concurrent(2), concurrent(2)], T0)
    assert both.allowed
    assert [r.remaining for r in both.results] == [6, 0, 1, 0]
    assert not (await state.acquire([tpm(10, 1)], T0)).allowed  # both amounts were reserved


async def test_a_refused_acquire_leaves_no_counter_of_a_new_subject_behind() -> None:
    state = MemoryState()
    assert (await state.acquire([rpm(1)], T0)).allowed
    refused = await state.acquire([rpm(1), tpm(10, 1, "new"), concurrent(1, "new")], T0)
    assert not refused.allowed
    assert ("tpm", "key", "new") not in state._windows and ("key", "new") not in state._slots


async def test_emptied_slots_are_kept_until_the_next_prune() -> None:
    state = MemoryState()
    result = await state.acquire([concurrent(1)], T0)
    await settle(state, result, T0)
    assert state._slots[("key", "demo")].live(T0) == 0  # kept: the next request reuses them
    assert (await state.acquire([rpm(5, "other")], T0 + 11)).allowed  # prunes
    assert ("key", "demo") not in state._slots


async def test_windows_whose_usage_left_go_at_a_prune() -> None:
    state = MemoryState()
    for user in ("u1", "u2"):  # one subject per end user, seen once
        assert (await state.acquire([rpm(5, user), tpm(100, 10, user)], T0)).allowed
    assert (await state.acquire([rpm(5, "u3")], T0 + 30)).allowed  # prunes: all still live
    assert {subject for _, _, subject in state._windows} == {"u1", "u2", "u3"}
    assert (await state.acquire([rpm(5, "u4")], T0 + 61)).allowed  # prunes: u1, u2 left
    assert {subject for _, _, subject in state._windows} == {"u3", "u4"}
    assert (await state.acquire([rpm(1, "u1")], T0 + 62)).allowed  # a new window, counting anew


async def test_many_idle_windows_go_a_batch_per_acquire() -> None:
    """3,000 end users seen once: a minute later no acquire walks them all (the event loop
    would stall, ~70 ms at 100,000); each drops one batch and the next goes on."""
    state = MemoryState()
    users = 2 * SWEEP_BATCH + 952
    for n in range(users):
        assert (await state.acquire([rpm(5, f"user-{n}")], T0 + n / 1e6)).allowed
    left = []
    for step in range(4):
        assert (await state.acquire([rpm(5, "steady")], T0 + 61 + step / 1e3)).allowed
        left.append(len(state._windows) - 1)  # the steady subject's window stays
    assert left == [users - SWEEP_BATCH, users - 2 * SWEEP_BATCH, 0, 0]


async def test_refusals_of_ever_new_subjects_leave_nothing_to_sweep() -> None:
    state = MemoryState()
    assert (await state.acquire([rpm(1)], T0)).allowed
    for n in range(100):  # the key's rpm is spent: each new end user's window is made, dropped
        refused = await state.acquire([rpm(1), rpm(5, f"user-{n}"), concurrent(1, f"u{n}")], T0)
        assert not refused.allowed
    assert len(state._windows) == len(state._window_sweep) == 1
    assert len(state._slots) == len(state._slot_sweep) == 0


async def test_an_acquire_reads_the_breakers_as_breaker_states_does() -> None:
    state = MemoryState()
    names = ("a", "b")
    closed = await state.acquire([rpm(5)], T0, names)
    assert dict(closed.breakers) == await state.breaker_states(names, T0)
    await record(state, False, T0, "a")
    opened = await state.acquire([rpm(5)], T0, names)
    assert dict(opened.breakers) == await state.breaker_states(names, T0)
    assert opened.breakers["a"].failures == 1 and closed.breakers["a"].failures == 0


async def test_end_users_spend_is_dropped_once_no_budget_reads_it() -> None:
    """One spend counter per end user (`[user_limits]` budgets) must not stay for every user
    ever seen: once an end user has no spend in the current day and month it goes; keys'
    spend (whose all-time total the admin API shows) stays."""
    state = MemoryState()
    for n in range(SWEEP_BATCH + 10):
        checks = [
            LimitCheck("user", f"k/u{n}", "budget_day", 10.0, 0.5),
            LimitCheck("key", "k", "budget_month", 10_000.0, 0.5),
        ]
        held = await state.acquire(checks, T0)
        assert held.reservation is not None
        await state.settle([Settlement(held.reservation, 0, 0.25)], T0 + 1)
    assert len(state._spend) == SWEEP_BATCH + 11
    later = T0 + 31 * DAY_S + USER_SWEEP_S  # the next month
    held = await state.acquire([LimitCheck("user", "k/u0", "budget_day", 10.0, 0.5)], later)
    assert held.reservation is not None  # u0 again: reserved today, kept
    for _ in range(3):  # one batch per prune; more due: the next acquire goes on
        await state.acquire([rpm(1000)], later)
    assert len(state._spend) == 2
    total = 0.25 * (SWEEP_BATCH + 10)
    assert await state.spend("key", "k", later) == {"day": 0.0, "month": 0.0, "total": total}
    assert (await state.spend("user", "k/u0", later))["day"] == 0.5
