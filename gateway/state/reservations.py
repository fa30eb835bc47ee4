"""What the backends make of a reservation: the result of an acquire, whether it is
remembered until it is settled, what it reserved of a budget, and what a settlement adds to.
Shared by both backends (`memory`, `redis`), so that they answer alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.state.base import (
    BUDGET_KINDS,
    SETTLE_RETRY_MAX_AGE_S,
    SLOT_TTL_S,
    AcquireResult,
    CheckResult,
    LimitCheck,
    Reservation,
    Settlement,
)
from gateway.state.breaker_state import BreakerState


def acquire_result(
    checks: Sequence[LimitCheck],
    results: Sequence[CheckResult],
    token: str,
    now: float,
    breakers: Mapping[str, BreakerState] | None = None,
    hold_s: float = SLOT_TTL_S,
) -> AcquireResult:
    """Assemble what `acquire` returns from the per-check results."""
    states = breakers if breakers is not None else {}
    refused = [result.reset_s for result in results if not result.allowed]
    if refused:
        return AcquireResult(False, tuple(results), None, max(refused), states)
    reservation = Reservation(token, tuple(checks), now, hold_s)
    return AcquireResult(True, tuple(results), reservation, 0.0, states)


def abandoned_result(checks: Sequence[LimitCheck], now: float) -> AcquireResult:
    """What an acquire whose token was abandoned before it ran returns: refused, nothing
    reserved (nobody reads it: its caller gave up)."""
    return AcquireResult(False, tuple(CheckResult(c, False, 0.0, 0.0) for c in checks), None)


def is_marked(checks: Sequence[LimitCheck]) -> bool:
    """Is an allowed acquire of `checks` settled, and remembered under its token until then?
    Only when it has a slot, tokens or a budget to settle: an rpm-only acquire costs no
    settlement round trip. (The Redis backend still marks an rpm-only acquire, for at most a
    window, so that an abandon coming after it ran in a stalled Redis undoes it; the memory
    backend, whose acquires are never waited on, does not.)"""
    return any(check.kind != "rpm" for check in checks)


def budget_reserved(reservation: Reservation, scope: str, subject: str) -> tuple[float, float]:
    """USD the reservation's budget checks reserved on one subject: (day, month)."""
    day = month = 0.0
    for check in reservation.checks:
        if check.scope == scope and check.subject == subject:
            if check.kind == "budget_day":
                day += check.amount
            elif check.kind == "budget_month":
                month += check.amount
    return day, month


def retry_too_late(settlement: Settlement, now: float) -> bool:
    """Was the settlement first sent over `SETTLE_RETRY_MAX_AGE_S` before `now`? (Never sent:
    no.) Such a retry is dropped by the backend: retrying it again is pointless."""
    return bool(settlement.receipt) and now - settlement.sent_at > SETTLE_RETRY_MAX_AGE_S


def spend_subjects(settlement: Settlement) -> list[tuple[str, str]]:
    """Every (scope, subject) whose spend a settlement adds to, each once, in order."""
    pairs = [(c.scope, c.subject) for c in settlement.reservation.checks if c.kind in BUDGET_KINDS]
    return list(dict.fromkeys([*pairs, *settlement.spend_subjects]))
