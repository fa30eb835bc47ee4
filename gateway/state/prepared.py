"""A plan's limit checks prepared once by a state backend: the fast path of the usual request.

Most keys' policies check the same rpm, tpm and concurrency limits on every request, and only
the tpm amount (the request's estimated tokens) changes. `StateBackend.prepare(checks)` binds
such checks to the backend's own counters once, and the prepared checks then acquire and settle
one request with none of the per-check objects of `acquire` (checks, results, a reservation,
settlements). The verdict rules are those of `acquire`, and the contract suite runs both paths
on the same state (tests/unit/state/test_prepared.py). A backend that cannot do it cheaper, or
checks it cannot prepare (budgets, an end user's limits, one counter checked twice), gets None,
and the caller uses `acquire`.

A prepared acquire is all or nothing like `acquire`, but it reports only "allowed" (with the
figures of the rate headers) or "refused": a refused request is acquired again through
`acquire`, which refuses it with its per-check results (no state changed in between: a
backend prepares only when its acquires do not await).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gateway.state.breaker_state import BreakerState

# What the rate headers say of one window after an allowed acquire: (its limit, what remains
# after this request's reservation (never negative), seconds until its oldest usage leaves).
WindowFigures = tuple[float, float, float]


class PreparedHold:
    """What one allowed prepared acquire holds until `PreparedChecks.settle`."""

    __slots__ = ("at", "breakers", "number", "requests", "tokens", "tokens_window")

    def __init__(
        self,
        number: int,
        at: float,
        tokens: int,
        requests: WindowFigures | None,
        tokens_window: WindowFigures | None,
        breakers: Mapping[str, BreakerState],
    ) -> None:
        # Unique in this process: what the backend holds its slots under (a number is cheaper
        # to make and hash than a token; `PreparedChecks.reservation_token` gives one).
        self.number = number
        self.at = at  # `now` of the acquire
        self.tokens = tokens  # reserved on each tpm window
        # The tightest request window and the tightest token window (None: the plan has none).
        self.requests = requests
        self.tokens_window = tokens_window
        self.breakers = breakers  # read with the acquire, as `acquire(..., breakers=)` does


class PreparedChecks(Protocol):
    """One plan's rpm, tpm and concurrency checks, bound to a backend's counters."""

    @property
    def holds_slots(self) -> bool:
        """Whether the checks take a concurrency slot."""
        ...

    def acquire(
        self, tokens: int, now: float, hold_s: float, breakers: tuple[str, ...]
    ) -> PreparedHold | None:
        """Check and reserve every limit (`tokens` on each tpm window), all or nothing, before
        this returns; None when refused (nothing reserved). The slots are held until
        `now + hold_s` at the latest. `breakers`: the deployments whose breakers to read."""
        ...

    def free_slots(self, hold: PreparedHold) -> None:
        """Free the hold's concurrency slots now (the rest is settled later)."""
        ...

    def settle(self, hold: PreparedHold, actual_tokens: int) -> None:
        """End the hold: free its slots (if still held) and reconcile the tokens it reserved
        with `actual_tokens`, in the bucket it reserved them in."""
        ...

    def reservation_token(self, hold: PreparedHold) -> str:
        """A reservation token for the hold, which `acquire`'s settlements then settle (a
        request that falls back turns its hold into reservations): its slots are held under
        that token from now on."""
        ...
