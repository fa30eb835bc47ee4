"""Route one request: pick deployments, retry, fall back, respect breakers and the deadline.

Order of tries for a model group:
1. deployments that fit the prompt (context window) and whose breaker lets traffic through,
   picked by the model's strategy (sticky by key or `user` when the model says so);
2. on a retryable failure (connect error, timeout, 429, 5xx, malformed answer) another healthy
   deployment not tried yet, at once; when every one was tried, the same ones again after an
   exponential backoff with jitter (or the upstream's Retry-After), up to `max_attempts`;
3. then each model of `fallbacks` in order, with the same rules. A prompt too large for every
   deployment goes straight to `context_window_fallbacks`; a content-policy refusal goes to
   `content_policy_fallbacks`. Any other 4xx ends the request at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping, Sequence

from gateway.config.types import DeploymentConfig, ModelConfig
from gateway.errors import GatewayError, InvalidRequest, UpstreamFailed, UpstreamTimeout
from gateway.limits.limiter import Held
from gateway.pipeline.context import RequestContext
from gateway.pipeline.services import Services
from gateway.routing.attempt import AttemptFailed, AttemptLimits, call_deployment
from gateway.routing.strategies import STRATEGIES, Candidate, Selection, weighted_by_point
from gateway.state import BreakerState, StateUnavailable

_CLOSED = BreakerState(state="closed", failures=0, cooldown_remaining_s=0.0)


def sticky_point(model: str, subject: str) -> float:
    """A stable number in [0, 1) for (model, subject): the same key always lands on the same side."""
    digest = hashlib.sha256(f"{model}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def backoff_s(retry: int, base_s: float, max_s: float, jitter: float) -> float:
    """Exponential backoff for the `retry`-th repeat (0-based), with full jitter in [50%, 100%]."""
    return float(min(max_s, base_s * 2.0**retry) * (0.5 + 0.5 * jitter))


def _needs_estimate(model: ModelConfig, body_bytes: int) -> bool:
    """Whether routing needs the prompt's token count.

    A token is at least one byte, so a body smaller than every context window fits without
    running the tokenizer.
    """
    if model.strategy in ("lowest_cost", "usage_based"):
        return True
    windows = [d.context_window for d in model.deployments if d.context_window is not None]
    return bool(windows) and body_bytes >= min(windows)


class Router:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._turns: dict[str, int] = {}
        self._up: dict[str, int] = {}

    async def _breaker_states(
        self,
        deployments: Sequence[DeploymentConfig],
        now: float,
        known: Mapping[str, BreakerState] | None = None,
    ) -> Mapping[str, BreakerState]:
        """The deployments' breakers: `known` (read with the limits acquire) when it has them
        all, else one state round trip; every breaker is treated closed when the state is down."""
        names = [d.name for d in deployments]
        if known is not None and all(name in known for name in names):
            states = known
        else:
            try:
                states = await self.services.state.breaker_states(names, now)
            except StateUnavailable:
                return {name: _CLOSED for name in names}
        for name in names:
            self._set_up(name, states[name])
        return states

    def _set_up(self, deployment: str, state: BreakerState) -> None:
        """`gateway_deployment_up`, written only when it changes."""
        up = 0 if state.state == "open" else 1
        if self._up.get(deployment) != up:
            self._up[deployment] = up
            metrics = self.services.metrics
            metrics.child(metrics.deployment_up, deployment).set(up)

    async def _record_outcome(
        self, deployment: str, ok: bool, before: BreakerState, now: float
    ) -> None:
        if ok and before.state == "closed" and before.failures == 0:
            return  # nothing to clear: save the round trip
        routing = self.services.runtime.config.routing
        try:
            state = await self.services.state.breaker_record(
                deployment,
                ok,
                now,
                routing.breaker_failures,
                routing.breaker_window_s,
                routing.breaker_cooldown_s,
            )
        except StateUnavailable:
            return
        self._set_up(deployment, state)

    async def _probe(
        self, candidates: list[Candidate], states: Mapping[str, BreakerState], now: float
    ) -> Candidate | None:
        """A half-open deployment whose single probe this request wins; it must then be called."""
        for candidate in candidates:
            if states.get(candidate.deployment.name, _CLOSED).state != "half_open":
                continue
            try:
                won = await self.services.state.breaker_try_probe(
                    candidate.deployment.name,
                    now,
                    self.services.runtime.config.routing.probe_timeout_s,
                )
            except StateUnavailable:
                won = False
            if won:
                return candidate
        return None

    def _pick(
        self,
        ctx: RequestContext,
        model: ModelConfig,
        candidates: list[Candidate],
        first: bool,
        prompt_tokens: int,
    ) -> Candidate:
        if len(candidates) == 1:
            return candidates[0]
        if first and model.sticky != "none":
            subject = (ctx.body or {}).get("user") if model.sticky == "user" else None
            if model.sticky == "key" or not isinstance(subject, str):
                subject = ctx.key.id if ctx.key else ""
            return weighted_by_point(candidates, sticky_point(model.name, subject))
        turn = self._turns.get(model.name, 0)
        self._turns[model.name] = turn + 1
        max_tokens = (
            (ctx.body or {}).get("max_tokens")
            or (ctx.body or {}).get("max_completion_tokens")
            or 256
        )
        selection = Selection(
            self.services.rng,
            turn,
            prompt_tokens,
            int(max_tokens) if isinstance(max_tokens, int) else 256,
        )
        return STRATEGIES[model.strategy](candidates, selection)

    async def _try_model(
        self, ctx: RequestContext, model: ModelConfig, deadline: float, prompt_tokens: int | None
    ) -> None:
        """Every allowed try on one model group; raises AttemptFailed with the last failure."""
        routing = self.services.runtime.config.routing
        stats = self.services.stats
        fitting = [d for d in model.deployments if d.weight > 0]
        if prompt_tokens is not None:
            fitting = [
                d for d in fitting if d.context_window is None or prompt_tokens <= d.context_window
            ]
            if not fitting:
                raise AttemptFailed(
                    InvalidRequest(
                        f"the prompt (~{prompt_tokens} tokens) exceeds the context window of every deployment of '{model.name}'",
                        code="context_length_exceeded",
                    ),
                    retryable=False,
                    context_window=True,
                )
        max_attempts = model.max_attempts or routing.max_attempts
        # The first attempt on the requested model uses the breakers read with the limits
        # acquire (same round trip); later attempts and fallback models read them fresh.
        held = ctx.limits_held
        requested = ctx.model is not None and model.name == ctx.model.name
        known = held.breakers if isinstance(held, Held) and requested else None
        tried: set[str] = set()
        last: AttemptFailed | None = None
        repeats = 0
        for attempt_no in range(max_attempts):
            now = time.monotonic()
            if now >= deadline:
                break
            states = await self._breaker_states(
                fitting, time.time(), known if attempt_no == 0 else None
            )
            half_open = [
                d
                for d in fitting
                if d.name not in tried and states.get(d.name, _CLOSED).state == "half_open"
            ]
            probe = (
                await self._probe([stats.candidate(d, now) for d in half_open], states, time.time())
                if half_open
                else None
            )
            if probe is not None:
                choice = probe.deployment
                tried.add(choice.name)
                try:
                    await self._attempt(
                        ctx, model, choice, deadline, states[choice.name], prompt_tokens or 0
                    )
                    return
                except AttemptFailed as failure:
                    last = failure
                    if not failure.retryable:
                        raise
                    continue
            healthy = [
                stats.candidate(d, now)
                for d in fitting
                if states.get(d.name, _CLOSED).state == "closed"
            ]
            if not healthy:
                if last is None:
                    last = AttemptFailed(
                        UpstreamFailed(
                            f"every deployment of '{model.name}' is cooling down after failures",
                            code="no_healthy_deployment",
                        ),
                        retryable=True,
                    )
                break
            untried = [c for c in healthy if c.deployment.name not in tried]
            if not untried:
                # Every healthy deployment failed once: wait, then go round again.
                wait = backoff_s(
                    repeats,
                    routing.backoff_base_s,
                    routing.backoff_max_s,
                    self.services.rng.random(),
                )
                if last is not None and last.retry_after_s is not None:
                    wait = max(wait, last.retry_after_s)
                repeats += 1
                if time.monotonic() + wait >= deadline:
                    break
                await _sleep_at_least(wait)
                untried = healthy
            choice = self._pick(ctx, model, untried, attempt_no == 0, prompt_tokens or 0).deployment
            tried.add(choice.name)
            try:
                await self._attempt(
                    ctx,
                    model,
                    choice,
                    deadline,
                    states.get(choice.name, _CLOSED),
                    prompt_tokens or 0,
                )
                return
            except AttemptFailed as failure:
                last = failure
                if not failure.retryable:
                    raise
        assert last is not None or time.monotonic() >= deadline
        raise last or AttemptFailed(
            UpstreamTimeout("the request deadline passed before an upstream answered"),
            retryable=False,
        )

    async def _attempt(
        self,
        ctx: RequestContext,
        model: ModelConfig,
        deployment: DeploymentConfig,
        deadline: float,
        breaker: BreakerState,
        prompt_tokens: int,
    ) -> None:
        stats = self.services.stats
        remaining = max(0.001, deadline - time.monotonic())
        limits = AttemptLimits(
            first_byte_s=min(deployment.timeouts.first_token_s, remaining),
            body_s=min(deployment.timeouts.total_s, remaining),
        )
        started = time.monotonic()
        stats.started(deployment.name, prompt_tokens, started)
        ok = False
        try:
            await call_deployment(ctx, self.services, model, deployment, limits)
            ok = True
        finally:
            elapsed_ms = (time.monotonic() - started) * 1000
            stats.finished(
                deployment.name,
                elapsed_ms if ok else None,
                elapsed_ms if ok and ctx.stream else None,
            )
            counts_as_failure = (
                not ok and ctx.attempts and _is_deployment_fault(ctx.attempts[-1].error_kind)
            )
            if ok or counts_as_failure:
                await self._record_outcome(deployment.name, ok, breaker, time.time())

    async def route(self, ctx: RequestContext) -> None:
        """Serve the request from its model group or its fallbacks; raises the final GatewayError."""
        assert ctx.model is not None
        config = self.services.runtime.config
        deadline = ctx.started + config.server.request_timeout_s
        chain: list[str] = [ctx.model.name]
        seen: set[str] = set()
        last: AttemptFailed | None = None
        index = 0
        while index < len(chain):
            name = chain[index]
            index += 1
            if name in seen:
                continue
            seen.add(name)
            model = config.models[name]
            prompt_tokens = (
                ctx.prompt_estimate() if _needs_estimate(model, len(ctx.raw_body)) else None
            )
            try:
                await self._try_model(ctx, model, deadline, prompt_tokens)
                ctx.fallback_used = name != ctx.model.name
                return
            except AttemptFailed as failure:
                last = failure
                if failure.context_window:
                    chain[index:index] = list(model.context_window_fallbacks)
                elif failure.content_policy:
                    chain[index:index] = list(model.content_policy_fallbacks)
                elif not failure.retryable:
                    raise failure.error from None
                else:
                    chain.extend(model.fallbacks)
            if time.monotonic() >= deadline:
                break
        assert last is not None
        raise last.error


async def _sleep_at_least(seconds: float) -> None:
    """Sleep no less than `seconds` by `time.monotonic()`: uvloop's timers run on a millisecond
    clock and may fire up to a millisecond early, and a Retry-After must not be cut short."""
    resume = time.monotonic() + seconds
    await asyncio.sleep(seconds)
    while (left := resume - time.monotonic()) > 0:
        await asyncio.sleep(left + 0.0005)


def _is_deployment_fault(kind: str | None) -> bool:
    """Failures that say something about the deployment's health (not the client's request)."""
    if kind is None:
        return False
    if kind.startswith("http_"):
        status = int(kind[5:])
        return status == 429 or status >= 500
    return True


async def route_and_call(ctx: RequestContext, services: Services) -> None:
    """Pipeline stage: hand the request to the router (unless the cache already answered)."""
    if ctx.cache == "hit":
        return
    await services.router.route(ctx)


__all__ = ["GatewayError", "Router", "backoff_s", "route_and_call", "sticky_point"]
