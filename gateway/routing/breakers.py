"""The router's view of the deployments' circuit breakers, kept in the state backend.

The state is shared across replicas (`StateBackend.breaker_*`); this module reads it (or uses
what the limits check already read), records call outcomes, claims half-open probes, and keeps
`gateway_deployment_up` in step. When the state backend is unavailable every breaker counts as
closed: routing keeps working on what it has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from gateway.config.types import DeploymentConfig, RoutingConfig
from gateway.errors import GatewayError, UpstreamFailed, upstream_failed
from gateway.observability.metrics import Metrics
from gateway.state import BreakerState, StateBackend, StateUnavailable

CLOSED = BreakerState(state="closed", failures=0, cooldown_remaining_s=0.0)
_NO_FAULT = frozenset(("client_closed", "overloaded", "rate_limit_exceeded"))


def is_deployment_fault(kind: str | None) -> bool:
    """Failures that say something about the deployment's health: connect errors, timeouts,
    5xx (and TGI's 424), malformed answers. Not the client's request (4xx), not the client
    leaving, and not a rate limit (429, Anthropic's 529 overloaded, or either said in a
    stream's error event: `overloaded`, `rate_limit_exceeded`): those bench it for a while
    (`gateway.routing.cooldowns`) but never open its breaker. A 503 that says it is busy
    (`gateway.routing.attempt.is_busy`) is such a rate limit too: the router leaves it out."""
    if kind is None or kind in _NO_FAULT:
        return False
    if kind.startswith("http_"):
        status = int(kind[5:])
        return upstream_failed(status) and status != 529
    return True


def all_open(
    model: str, deployments: Sequence[DeploymentConfig], states: Mapping[str, BreakerState]
) -> GatewayError:
    """502 `no_healthy_deployment` for a model whose every deployment's breaker is open (or
    half-open with its probe out), no call made: `Retry-After` and `retry-after-ms` say when
    the first breaker lets a probe through (at least 1 s: a half-open deployment whose probe
    is out has no cooldown left), so the SDKs, which retry a 502, come back then rather than
    at once."""
    wait = min((states.get(d.name, CLOSED).cooldown_remaining_s for d in deployments), default=0)
    ms = max(1000, math.ceil(round(wait * 1000, 3)))  # float noise must not add a millisecond
    error = UpstreamFailed(
        f"every deployment of '{model}' is cooling down after failures",
        code="no_healthy_deployment",
    )
    return error.with_headers({"retry-after": str(math.ceil(ms / 1000)), "retry-after-ms": str(ms)})


class Breakers:
    def __init__(self, state: StateBackend, metrics: Metrics) -> None:
        self.state = state
        self.metrics = metrics
        self._up: dict[str, int] = {}

    async def states(
        self,
        names: Sequence[str],
        now: float,
        known: Mapping[str, BreakerState] | None = None,
    ) -> Mapping[str, BreakerState]:
        """The breakers of `names`: `known` when it has them all, else one state round trip."""
        states = known
        if known is not None:  # a loop, not all(<generator>): this runs on every limited request
            for name in names:
                if name not in known:
                    states = None
                    break
        if states is None:
            try:
                states = await self.state.breaker_states(names, now)
            except StateUnavailable as exc:
                self.metrics.state_error(exc.kind)
                return {name: CLOSED for name in names}
        for name in names:
            self._set_up(name, states[name])
        return states

    async def record(
        self, deployment: str, ok: bool, before: BreakerState, now: float, routing: RoutingConfig
    ) -> None:
        """One call's outcome; a success on a clean closed breaker costs no round trip."""
        if ok and before.state == "closed" and before.failures == 0:
            return
        try:
            state = await self.state.breaker_record(
                deployment,
                ok,
                now,
                routing.breaker_failures,
                routing.breaker_window_s,
                routing.breaker_cooldown_s,
            )
        except StateUnavailable as exc:
            self.metrics.state_error(exc.kind)
            return
        self._set_up(deployment, state)

    async def try_probe(self, deployment: str, now: float, probe_timeout_s: float) -> bool:
        """Whether this request wins the single probe of a half-open deployment."""
        try:
            return await self.state.breaker_try_probe(deployment, now, probe_timeout_s)
        except StateUnavailable as exc:
            self.metrics.state_error(exc.kind)
            return False

    def _set_up(self, deployment: str, state: BreakerState) -> None:
        """`gateway_deployment_up`, written only when it changes."""
        up = 0 if state.state == "open" else 1
        if self._up.get(deployment) != up:
            self._up[deployment] = up
            self.metrics.child(self.metrics.deployment_up, deployment).set(up)
