"""Shared by the state contract suite (test_contract_*.py): check builders and small steps.

The suite runs every test once per backend (memory and redis, the `state` fixture in
conftest.py). Time is injected (`now`), never slept: T0 is a whole second, 2026-01-15 00:00:00
UTC.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.state import AcquireResult, LimitCheck, Settlement, StateBackend
from gateway.state.base import LimitKind

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z
DAY = 86_400.0


def rpm(limit: float, subject: str = "demo", scope: str = "key") -> LimitCheck:
    return LimitCheck(scope, subject, "rpm", limit, 1)


def tpm(limit: float, amount: float, subject: str = "demo") -> LimitCheck:
    return LimitCheck("key", subject, "tpm", limit, amount)


def concurrent(limit: float, subject: str = "demo") -> LimitCheck:
    return LimitCheck("key", subject, "concurrent", limit, 1)


def budget(kind: LimitKind, limit: float, subject: str = "demo", scope: str = "key") -> LimitCheck:
    return LimitCheck(scope, subject, kind, limit, 0)


async def burst(state: StateBackend, checks: Sequence[LimitCheck], n: int, now: float) -> int:
    """How many of `n` simultaneous acquires of `checks` at `now` were allowed."""
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
    """Settle the reservation of an allowed `result` with the tokens and cost it used."""
    assert result.reservation is not None
    await state.settle([Settlement(result.reservation, tokens, cost, extra)], now)


async def record(state: StateBackend, ok: bool, now: float, name: str = "dep-a") -> str:
    """Report one call to breaker `name` (threshold 3 in 10 s, cooldown 30 s); its state after."""
    result = await state.breaker_record(
        name, ok, now, failure_threshold=3, window_s=10, cooldown_s=30
    )
    return result.state
