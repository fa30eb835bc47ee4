"""What one request holds from its acquire until it settles: its reservation, the backend that
holds it, and its checks sorted once (the concurrency slots, the rest, the budgets checked)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.limits.plan import Estimate, rate_headers
from gateway.state import (
    BUDGET_KINDS,
    AcquireResult,
    BreakerState,
    LimitCheck,
    Reservation,
    StateBackend,
)


class Held:
    """What one request holds until it settles."""

    __slots__ = (
        "acquired",
        "backend",
        "breakers",
        "budgeted",
        "estimate",
        "marked",
        "reservation",
        "rest",
        "rest_marked",
        "settled_cost",
        "slots",
        "slots_freed",
    )

    def __init__(
        self,
        reservation: Reservation,
        backend: StateBackend,
        estimate: Estimate,
        acquired: AcquireResult,
        breakers: Mapping[str, BreakerState] | None = None,
    ) -> None:
        self.reservation = reservation
        self.backend = backend
        self.estimate = estimate
        self.acquired = acquired
        # The model's breakers as read with the acquire (None when not read, e.g. Redis was
        # down): the router's first attempt uses them instead of a round trip of its own.
        self.breakers = breakers
        self.slots_freed = False  # by `Limiter.free_slots`, before the response's last byte
        # Set by `Limiter.settle_before_last_byte` (nothing left to settle): the cost it settled,
        # which the request's record reuses.
        self.settled_cost: float | None = None
        # The reservation's checks sorted once for `free_slots` and `settle`: the concurrency
        # slots, the rest, and the (scope, subject) pairs whose budgets it checked.
        slots: tuple[LimitCheck, ...] = ()
        rest: tuple[LimitCheck, ...] = ()
        budgeted: set[tuple[str, str]] | None = None
        rest_marked = False
        for check in reservation.checks:
            kind = check.kind
            if kind == "concurrent":
                slots += (check,)
                continue
            rest += (check,)
            if kind != "rpm":
                rest_marked = True  # `is_marked(rest)`
                if kind in BUDGET_KINDS:
                    budgeted = budgeted or set()
                    budgeted.add((check.scope, check.subject))
        self.slots = slots
        self.rest = rest
        self.rest_marked = rest_marked
        self.marked = bool(slots) or rest_marked  # `is_marked` of all its checks
        self.budgeted = budgeted

    @property
    def settled(self) -> bool:
        """Whether `Limiter.settle_before_last_byte` settled everything already."""
        return self.settled_cost is not None

    @property
    def holds_slots(self) -> bool:
        return bool(self.slots)

    @property
    def results_ready(self) -> bool:
        """Whether the acquire's per-check results are made already (in-process state), so the
        headers cost only their formatting; else (Redis) reading them parses the reply."""
        return not callable(self.acquired.parts)

    def rate_headers(self) -> dict[str, str]:
        """The x-ratelimit-* headers of the acquire (built on demand: see check_limits)."""
        return rate_headers(self.acquired.results)
