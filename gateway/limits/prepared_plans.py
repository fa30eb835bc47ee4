"""The fast path of the usual request with limits: its plan's checks prepared by the state
backend once (`gateway.state.prepared`), then acquired and settled without per-check objects.

`PreparedPlans.checks_for` keeps, per plan, the checks the state backend prepared for it:
plans whose checks keep their shape from request to request (rpm, tpm and concurrency of keys,
teams and models: `LimitPlan.tpm_only_varies`) on a backend that prepares (the memory backend;
Redis prepares nothing: its acquire is a round trip anyway). `Limiter.acquire_prepared`
acquires them, and gets None when the limits refuse the request: the caller then acquires
through `Limiter.acquire`, which refuses it with the per-check results, the rate headers and the
metrics of every refusal (a backend prepares only acquires that never await, so nothing
changed in between). What the request holds is a `PreparedHeld`: the same surface
to the pipeline as `Held`.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.limits.plan import LimitPlan, prepared_header_lines
from gateway.state import BreakerState, StateBackend
from gateway.state.prepared import PreparedChecks, PreparedHold

# Plans whose preparation is kept (a config's keys times its models; a reload makes new ones).
_PLANS_MAX = 4096


class PreparedHeld:
    """What one request holds from a prepared acquire until it settles."""

    __slots__ = ("checks", "hold", "settled_cost", "slots_freed")

    def __init__(self, checks: PreparedChecks, hold: PreparedHold) -> None:
        self.checks = checks
        self.hold = hold
        self.slots_freed = False  # by `Limiter.free_slots`, with the response's last byte
        # Set by `Limiter.settle_before_last_byte`: the cost it settled (the record reuses it).
        self.settled_cost: float | None = None

    @property
    def holds_slots(self) -> bool:
        return self.checks.holds_slots

    @property
    def breakers(self) -> Mapping[str, BreakerState]:
        """The model's breakers as read with the acquire (the router's first attempt uses
        them instead of reading them again)."""
        return self.hold.breakers

    def rate_header_lines(self) -> list[tuple[bytes, bytes]]:
        hold = self.hold
        return prepared_header_lines(hold.requests, hold.tokens_window)

    def free_slots(self) -> None:
        if not self.slots_freed:
            self.slots_freed = True
            self.checks.free_slots(self.hold)

    def reservation_token(self) -> str:
        """The token a reservation of this hold goes by (`PreparedChecks.reservation_token`)."""
        return self.checks.reservation_token(self.hold)

    def settle(self, actual_tokens: int) -> None:
        """Free the slots (if still held) and reconcile the reserved tokens (the limiter calls
        it once: `settled_cost` says it was)."""
        self.slots_freed = True
        self.checks.settle(self.hold, actual_tokens)


class PreparedPlans:
    """The plans prepared by the limiter's state backend, each prepared on first use."""

    def __init__(self) -> None:
        # id(plan) -> (the plan, the backend, its prepared checks or None): the plan is kept
        # with its entry, so its id is not reused while the entry lives; a backend swapped
        # since (tests do) prepares again.
        self._prepared: dict[int, tuple[LimitPlan, StateBackend, PreparedChecks | None]] = {}

    def checks_for(self, state: StateBackend, plan: LimitPlan) -> PreparedChecks | None:
        """The plan's checks as `state` prepared them (on first use), or None when the plan has
        no prepared path there (Redis prepares nothing: nothing else is done for it)."""
        entry = self._prepared.get(id(plan))
        if entry is None or entry[0] is not plan or entry[1] is not state:
            entry = (plan, state, state.prepare(plan.checks) if plan.tpm_only_varies else None)
            if len(self._prepared) >= _PLANS_MAX:
                self._prepared.clear()
            self._prepared[id(plan)] = entry
        return entry[2]
