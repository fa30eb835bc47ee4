"""The limits of a fallback model, reserved as the router moves a request to it.

The limits stage reserves the request's own checks: the key's, its team's, its end user's and
those the key has on the requested model. A fallback model B may have limits of its own for the
key (`[model_limits."B"]`); `FallbackAdmission` is what the router asks before it tries B
(`RouteRequest.admit_fallback`). It reserves B's own checks through the limiter, all or nothing
(memory or Redis, as the stage's): refused, the router passes B over; allowed, the request
holds them until it ends and settles them with the answer's tokens and cost
(`gateway.limits.fallback_held.FallbackHeld` replaces `ctx.limits_held`).

Moving on from a model gives back what the request reserved on it alone: the model failed
without an answer, so its tpm and budget reservations settle at nothing used and its
concurrency slot is freed; its rpm keeps the request (the request was sent its way, whether or
not a deployment of it was called). The checks of the key, team and user were reserved once and
stay as they are, settled at the end as usual.

Built only for a request whose (key, model) has a fallback with limits of its own
(`LimitPlans.fallbacks`): other requests make none of it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from gateway.config.types import ModelConfig
from gateway.errors import RateLimited
from gateway.limits.estimate import Estimate, estimate_request
from gateway.limits.fallback_held import FallbackHeld
from gateway.limits.held import Held
from gateway.limits.limiter import Limiter
from gateway.limits.plan import LimitPlan
from gateway.limits.prepared_plans import PreparedHeld
from gateway.pipeline.context import RequestContext
from gateway.providers.service_tiers import asked_tier
from gateway.routing.exchange import AdmitFallback
from gateway.state import AcquireResult, LimitCheck, Reservation, StateBackend


def admit_fallback(ctx: RequestContext, limiter: Limiter) -> AdmitFallback | None:
    """What the router asks before each fallback model of this request; None when no model
    the request may fall back to has limits of its own for the key."""
    assert ctx.key is not None and ctx.model is not None
    plans = ctx.runtime.limit_plans.fallbacks(ctx.key, ctx.model)
    return FallbackAdmission(ctx, limiter, plans) if plans is not None else None


def _given_back(check: LimitCheck) -> bool:
    """A check the request gives back when it leaves the model: the model's own, but rpm."""
    return check.scope == "model" and check.kind != "rpm"


class FallbackAdmission:
    """One request's way through the limits of its fallback models (called per fallback)."""

    def __init__(
        self, ctx: RequestContext, limiter: Limiter, plans: Mapping[str, LimitPlan]
    ) -> None:
        self._ctx = ctx
        self._limiter = limiter
        self._plans = plans
        self._own: Held | PreparedHeld | None = None  # the request's own checks, but those left
        self._left_requested = False
        self._current: Held | None = None  # the own checks of the fallback being tried

    async def __call__(self, model: ModelConfig) -> bool:
        """Reserve `model`'s own limits for the key (True), or refuse it (False: nothing of it
        reserved). Raises what the limits stage would when the state is unavailable and
        `on_redis_error = "fail_closed"`."""
        self._leave()
        plan = self._plans.get(model.name)
        if plan is None:
            return True
        ctx, limiter = self._ctx, self._limiter
        assert ctx.body is not None
        prompt_tokens = ctx.prompt_estimate() if plan.needs_estimate else 0
        tier = asked_tier(ctx.body) if plan.priced else None
        estimate = estimate_request(
            ctx.body, ctx.endpoint.kind, model, prompt_tokens, plan.priced, tier
        )
        elapsed = time.monotonic() - ctx.started
        deadline_s = max(0.0, ctx.runtime.config.server.request_timeout_s - elapsed)
        checks = plan.for_request(estimate, ctx.user)
        try:
            self._current = await limiter.acquire(checks, None, deadline_s, plan.sorting)
        except RateLimited:
            return False
        self._hold()
        return True

    def _leave(self) -> None:
        """Give back what the request holds on the model it leaves (see the module docstring)."""
        if not self._left_requested:
            self._left_requested = True
            self._own = self._leave_requested()
        elif self._current is not None:
            self._limiter.settle(self._current, 0, 0.0, ())
            self._current = None
        self._hold()

    def _leave_requested(self) -> Held | PreparedHeld | None:
        """Split the limits stage's reservation: the requested model's own checks (but rpm)
        settle now at nothing used; the rest is what the request keeps."""
        ctx = self._ctx
        held = ctx.limits_held
        assert ctx.key is not None and ctx.model is not None
        assert not isinstance(held, FallbackHeld)  # made here, after this
        plan = ctx.runtime.limit_plans.get(ctx.key, ctx.model)
        if held is None or plan is None or not any(_given_back(c) for c in plan.checks):
            return held
        backend: StateBackend
        if isinstance(held, PreparedHeld):  # in process: the same counters, check by check
            hold = held.hold
            checks = plan.for_request(Estimate(hold.tokens, 0, 0.0))  # tpm amount: its tokens
            token, at = held.reservation_token(), hold.at
            hold_s = ctx.runtime.config.server.request_timeout_s
            backend = self._limiter.state  # the backend the plan was prepared on
        else:
            reservation = held.reservation
            checks = list(reservation.checks)
            token, at, hold_s = reservation.token, reservation.at, reservation.hold_s
            backend = held.backend
        back = [check for check in checks if _given_back(check)]
        kept = [check for check in checks if not _given_back(check)]
        self._limiter.settle(_held(token, back, at, hold_s, backend), 0, 0.0, ())
        return _held(token, kept, at, hold_s, backend) if kept else None

    def _hold(self) -> None:
        """What the request holds now, for the end of the request to settle."""
        parts = tuple(part for part in (self._own, self._current) if part is not None)
        self._ctx.limits_held = (
            FallbackHeld(parts) if len(parts) > 1 else parts[0] if parts else None
        )


def _held(
    token: str, checks: list[LimitCheck], at: float, hold_s: float, backend: StateBackend
) -> Held:
    """Part of a reservation as a `Held` of its own (same token: the state settles it check by
    check). Its acquire's results were read already, by the limits stage."""
    reservation = Reservation(token, tuple(checks), at, hold_s)
    return Held(reservation, backend, AcquireResult(True, (), reservation))
