"""The acquire call's encoding (`acquire_call.AcquireCalls`), cached per tuple of checks: byte for
byte the call `lua/acquire.lua` documents, built here argument by argument through the generic
encoder, whether the cache missed or hit, for a new day's budgets, and for a changed plan."""

from __future__ import annotations

import math

import pytest

from gateway.state import LimitCheck, Reservation
from gateway.state.base import CONCURRENT_RETRY_S
from gateway.state.periods import periods
from gateway.state.redis.acquire_call import AcquireCalls
from gateway.state.redis.commands import ScriptCall
from gateway.state.redis.keys import KeyNames
from gateway.state.redis.scripts import ACQUIRE

T0 = 1_768_435_200.25  # 2026-01-15T00:00:00.25Z
TOKEN = "0123456789abcdef0123456789abcdef"
PLAN = (
    LimitCheck("key", "k1", "rpm", 600, 1),
    LimitCheck("key", "k1", "tpm", 90_000, 1234),
    LimitCheck("key", "k1", "concurrent", 8, 1),
)
BUDGETED = (
    LimitCheck("key", "k1", "rpm", 600, 1),
    LimitCheck("team", "qa", "budget_day", 25, 0.0125),
    LimitCheck("key", "k1", "tpm", 90_000, 77),
    LimitCheck("team", "qa", "budget_month", 400.5, 0.0125),
)


def documented_call(checks: tuple[LimitCheck, ...], now: float, hold_s: float) -> ScriptCall:
    """The call as lua/acquire.lua documents it: KEYS (each check's counter, then the mark),
    ARGV now, second, token, slot expiry, hold_ms, window_s, window_ttl_ms, mark_ms, then
    code, limit, amount, hint per check."""
    day = periods(now)
    keys: list[str | bytes | int] = []
    per_check: list[str | bytes | int] = []
    for check in checks:
        if check.kind in ("rpm", "tpm", "concurrent"):
            keys.append(f"llmgw:{{limits}}:{check.kind}:{check.scope}:{check.subject}")
            code, hint = ("c", CONCURRENT_RETRY_S) if check.kind == "concurrent" else ("w", 0.0)
        elif check.kind == "budget_day":
            keys.append(f"llmgw:{{limits}}:spend:{check.scope}:{check.subject}:day:{day.day}")
            code, hint = "b", day.day_end - now
        else:
            keys.append(f"llmgw:{{limits}}:spend:{check.scope}:{check.subject}:month:{day.month}")
            code, hint = "b", day.month_end - now
        per_check += [code, repr(float(check.limit)), repr(float(check.amount)), repr(hint)]
    hold_ms = max(1, math.ceil(hold_s * 1000))
    marked = any(check.kind != "rpm" for check in checks)
    args: list[str | bytes | int] = [
        repr(now),
        str(math.floor(now)),
        TOKEN,
        repr(now + hold_s),
        str(hold_ms),
        "60.0",
        "120000",
        str(hold_ms if marked else min(hold_ms, 60_000)),
    ]
    return ACQUIRE.call([*keys, f"llmgw:{{limits}}:r:{TOKEN}"], args + per_check)


def encoded(calls: AcquireCalls, checks: tuple[LimitCheck, ...], now: float) -> ScriptCall:
    return calls.call(Reservation(TOKEN, checks, now, 31.5))


@pytest.mark.parametrize(
    "checks",
    [
        PLAN,
        BUDGETED,
        (LimitCheck("key", "k1", "rpm", 5, 1),),  # rpm only: its mark lives a window at most
        (LimitCheck("model", "gpt 4o/100%", "tpm", 1e6, 1),),  # a "%" in a key's subject
    ],
    ids=["rpm-tpm-concurrent", "budgets", "rpm-only", "percent-in-subject"],
)
def test_cached_and_uncached_encodings_are_the_documented_call(
    checks: tuple[LimitCheck, ...],
) -> None:
    calls = AcquireCalls(KeyNames("llmgw"))
    first = encoded(calls, checks, T0)  # the cache misses
    later = encoded(calls, checks, T0 + 7.5)  # it hits: only times and amounts change
    assert first == documented_call(checks, T0, 31.5)
    assert later == documented_call(checks, T0 + 7.5, 31.5)
    assert encoded(AcquireCalls(KeyNames("llmgw")), checks, T0 + 7.5) == later


def test_amounts_change_from_call_to_call_through_the_cache() -> None:
    calls = AcquireCalls(KeyNames("llmgw"))
    encoded(calls, PLAN, T0)
    for tokens in (1, 2, 1234, 99_999):
        checks = (PLAN[0], LimitCheck("key", "k1", "tpm", 90_000, tokens), PLAN[2])
        assert encoded(calls, checks, T0 + 1) == documented_call(checks, T0 + 1, 31.5)


def test_a_new_day_names_the_new_budget_keys() -> None:
    calls = AcquireCalls(KeyNames("llmgw"))
    encoded(calls, BUDGETED, T0)
    next_day = T0 + 86_400.0
    assert periods(next_day) != periods(T0)
    call = encoded(calls, BUDGETED, next_day)
    assert call == documented_call(BUDGETED, next_day, 31.5)
    assert b":day:2026-01-16\r\n" in call.args


def test_a_new_month_names_the_new_month_key() -> None:
    calls = AcquireCalls(KeyNames("llmgw"))
    last_day = 1_769_817_600.5  # 2026-01-31T00:00:00.5Z
    encoded(calls, BUDGETED, last_day)
    call = encoded(calls, BUDGETED, last_day + 86_400.0)
    assert b":month:2026-02\r\n" in call.args
    assert call == documented_call(BUDGETED, last_day + 86_400.0, 31.5)


@pytest.mark.parametrize(
    "changed",
    [
        (PLAN[0], LimitCheck("key", "k1", "tpm", 120_000, 1234), PLAN[2]),  # a new limit
        (PLAN[0], PLAN[1], LimitCheck("key", "k2", "concurrent", 8, 1)),  # another subject
        (PLAN[0], PLAN[1], LimitCheck("team", "k1", "concurrent", 8, 1)),  # another scope
        (PLAN[2], PLAN[1], PLAN[0]),  # another order
        PLAN[:2],  # a check less
    ],
)
def test_a_changed_plan_does_not_reuse_a_stale_encoding(changed: tuple[LimitCheck, ...]) -> None:
    calls = AcquireCalls(KeyNames("llmgw"))
    encoded(calls, PLAN, T0)
    assert encoded(calls, changed, T0 + 1) == documented_call(changed, T0 + 1, 31.5)
    assert encoded(calls, PLAN, T0 + 2) == documented_call(PLAN, T0 + 2, 31.5)


class Shape:
    """What a plan hands the backend as its checks' shape (`StateBackend.acquire`'s `shape`)."""


def shaped(calls: AcquireCalls, checks: tuple[LimitCheck, ...], now: float, shape: Shape) -> bytes:
    return calls.call(Reservation(TOKEN, checks, now, 31.5), shape).args


@pytest.mark.parametrize("checks", [PLAN, BUDGETED], ids=["rpm-tpm-concurrent", "budgets"])
def test_a_shape_met_before_encodes_the_documented_call(checks: tuple[LimitCheck, ...]) -> None:
    """Through the shape's entry (hit from the second call on, but for budgets, whose hint
    moves with the clock and are looked up as before) the amounts change from call to call,
    and a new day names its new keys."""
    calls, shape = AcquireCalls(KeyNames("llmgw")), Shape()
    for at, tokens in enumerate((1, 2, 1234, 99_999)):
        now = T0 + 86_400.0 * (at // 2) + at  # a new day from the third call
        varied = tuple(
            LimitCheck(c.scope, c.subject, c.kind, c.limit, tokens) if c.kind == "tpm" else c
            for c in checks
        )
        assert shaped(calls, varied, now, shape) == documented_call(varied, now, 31.5).args


def test_two_shapes_keep_their_own_encodings() -> None:
    calls, plan, other = AcquireCalls(KeyNames("llmgw")), Shape(), Shape()
    team = (LimitCheck("team", "qa", "rpm", 50, 1), LimitCheck("team", "qa", "tpm", 9_000, 5))
    for now in (T0, T0 + 1):
        assert shaped(calls, PLAN, now, plan) == documented_call(PLAN, now, 31.5).args
        assert shaped(calls, team, now, other) == documented_call(team, now, 31.5).args


TWO_WINDOWS = (
    LimitCheck("key", "k1", "rpm", 600, 1),
    LimitCheck("key", "k1", "tpm", 90_000, 10),
    LimitCheck("team", "qa 100%", "concurrent", 4, 1),
    LimitCheck("team", "qa 100%", "tpm", 500_000, 10),
)


@pytest.mark.parametrize("checks", [PLAN, TWO_WINDOWS], ids=["one-tpm", "two-tpm"])
def test_a_shape_entry_writes_only_the_tpm_amounts(checks: tuple[LimitCheck, ...]) -> None:
    """A shape's entry (an rpm's and a slot's amount written into its template, a slot per
    tpm amount) is what encodes the later calls, and encodes the documented call: each tpm
    check's own amount, in its own place."""
    calls, shape = AcquireCalls(KeyNames("llmgw")), Shape()
    shaped(calls, checks, T0, shape)
    assert id(shape) in calls._shaped  # the later calls go through the entry
    for tokens in (1, 7, 1234.5, 99_999):
        varied = tuple(
            LimitCheck(c.scope, c.subject, c.kind, c.limit, tokens + at) if c.kind == "tpm" else c
            for at, c in enumerate(checks)
        )
        assert shaped(calls, varied, T0 + 3, shape) == documented_call(varied, T0 + 3, 31.5).args


def test_a_shape_whose_rpm_amount_is_not_1_keeps_no_entry() -> None:
    calls, shape = AcquireCalls(KeyNames("llmgw")), Shape()
    odd = (LimitCheck("key", "k1", "rpm", 600, 2), *PLAN[1:])
    assert shaped(calls, odd, T0, shape) == documented_call(odd, T0, 31.5).args
    assert id(shape) not in calls._shaped
    assert shaped(calls, odd, T0 + 1, shape) == documented_call(odd, T0 + 1, 31.5).args


def test_an_rpm_only_shape_marks_for_a_window_at_most() -> None:
    calls, shape = AcquireCalls(KeyNames("llmgw")), Shape()
    rpm = (LimitCheck("key", "k1", "rpm", 600, 1),)
    for now in (T0, T0 + 1):
        call = calls.call(Reservation(TOKEN, rpm, now, 300.0), shape)
        assert call.args == documented_call(rpm, now, 300.0).args
        assert b"\r\n60000\r\n" in call.args
