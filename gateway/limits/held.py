"""What one request holds from its acquire until it settles: its reservation, the backend that
holds it, and its checks sorted (`gateway.limits.sorting`: the concurrency slots, the rest, the
budgets checked, where the rate headers' windows are)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.limits.plan import prepared_header_lines, rate_header_lines, window_header_lines
from gateway.limits.sorting import Sorting, Subject, sort_checks
from gateway.state import AcquireResult, BreakerState, LimitCheck, Reservation, StateBackend
from gateway.state.base import UnreadResults


class Held:
    """What one request holds until it settles."""

    __slots__ = (
        "acquired",
        "backend",
        "breakers",
        "reservation",
        "settled_cost",
        "slots_freed",
        "sorting",
    )

    def __init__(
        self,
        reservation: Reservation,
        backend: StateBackend,
        acquired: AcquireResult,
        breakers: Mapping[str, BreakerState] | None = None,
        sorting: Sorting | None = None,
    ) -> None:
        self.reservation = reservation
        self.backend = backend
        self.acquired = acquired
        # The model's breakers as read with the acquire (None when not read, e.g. Redis was
        # down): the router's first attempt uses them instead of a round trip of its own.
        self.breakers = breakers
        self.slots_freed = False  # by `Limiter.free_slots`, before the response's last byte
        # Set by `Limiter.settle_before_last_byte` (nothing left to settle): the cost it settled,
        # which the request's record reuses.
        self.settled_cost: float | None = None
        # The checks sorted: given by the plan when they keep their shape, else sorted here.
        self.sorting = sorting if sorting is not None else sort_checks(reservation.checks)

    @property
    def slots(self) -> tuple[LimitCheck, ...]:
        """The concurrency checks (what `Limiter.free_slots` frees)."""
        checks = self.reservation.checks
        return tuple(checks[at] for at in self.sorting.slots_at)

    @property
    def rest(self) -> tuple[LimitCheck, ...]:
        """The checks other than the concurrency slots (settled after `free_slots`)."""
        slots_at = self.sorting.slots_at
        return tuple(c for at, c in enumerate(self.reservation.checks) if at not in slots_at)

    @property
    def marked(self) -> bool:
        """`is_marked` of all its checks: remembered under its token, to settle."""
        return self.sorting.marked

    @property
    def rest_marked(self) -> bool:
        """`is_marked` of `rest`."""
        return self.sorting.rest_marked

    @property
    def budgeted(self) -> frozenset[Subject] | None:
        """The (scope, subject) pairs whose budgets it checked."""
        return self.sorting.budgeted

    @property
    def holds_slots(self) -> bool:
        return bool(self.sorting.slots_at)

    def rate_header_lines(self) -> list[tuple[bytes, bytes]]:
        """The x-ratelimit-* headers of the acquire, as the response writes them (`check_limits`
        makes them once the acquire is allowed)."""
        pair = self.sorting.window_pair
        if pair is not None:  # one rpm and one tpm window: no tightest to look for
            parts = self.acquired.parts
            if isinstance(parts, UnreadResults):  # unparsed (Redis): those two only, not all
                return prepared_header_lines(parts.figures(pair[0]), parts.figures(pair[1]))
            results = self.acquired.results
            return window_header_lines(results[pair[0]], results[pair[1]])
        return rate_header_lines(self.acquired.results)
