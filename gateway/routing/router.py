"""Route one request: pick deployments, retry, fall back, respect breakers and the deadline.

Order of tries for a model group:
1. deployments that fit the prompt (context window) and whose breaker lets traffic through,
   picked by the model's strategy (sticky by key or `user` when the model says so);
2. on a retryable failure (connect error, timeout, 5xx, malformed answer) another healthy
   deployment not tried yet, at once; when every one was tried, the same ones again after an
   exponential backoff with jitter (or the upstream's Retry-After), up to `max_attempts`;
   a rate limit (429, Anthropic's 529) is no fault: it benches the deployment for the
   upstream's Retry-After (`cooldowns.py`) and the next healthy deployment is tried at once;
   so does a 404 for the deployment's model, for `missing_model_cooldown_s`;
3. then each model of `fallbacks` in order, with the same rules. A prompt too large for every
   deployment goes straight to `context_window_fallbacks`; a content-policy refusal goes to
   `content_policy_fallbacks`. Any other 4xx ends the request at once, but a chat
   completions answer in OpenAI's words for "use the Responses API" from an `api = "auto"`
   deployment of a provider that serves it: asked again there in the same attempt, and the
   next such requests go there first; likewise a server's refusal of an advisory field
   ("Unrecognized request argument supplied: prompt_cache_key") and an Anthropic-type
   upstream's "Unexpected value(s) ... for the `anthropic-beta` header", asked again without
   them, which its next requests leave out (`learned`). When nothing is left
   and the last failure was a rate limit, the client gets it with the shortest wait of the
   benched deployments as `Retry-After`. A fallback model the key may not use
   (`[[keys]] models`) is skipped, never called; so is one whose own limits for the key
   refuse the request (`RouteRequest.admit_fallback`, which reserves them first). Embeddings
   and legacy completions go only to deployments that serve them (not Anthropic's), and a
   fallback with none is passed over.

The router is built from the edges it uses (state, deployment stats, metrics, upstream
clients, clock, randomness) and knows nothing of the pipeline: it is asked a `RouteRequest`
and fills an `Exchange`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from gateway import tokens
from gateway.clock import Clock
from gateway.config.types import DeploymentApi, DeploymentConfig
from gateway.errors import UpstreamTimeout
from gateway.observability.metrics import Metrics
from gateway.providers import OPENAI_ONLY_KINDS, unserved
from gateway.routing.attempt import ClientFor, build_call, call_deployment
from gateway.routing.attempt_failure import AttemptFailed
from gateway.routing.attempt_log import AttemptLog
from gateway.routing.breakers import CLOSED, Breakers, is_deployment_fault
from gateway.routing.choice import Tries, back_off, healthy_candidates, probe_winner
from gateway.routing.cooldowns import Cooldowns
from gateway.routing.deployment_stats import DeploymentStats
from gateway.routing.exchange import Exchange, RouteRequest, UpstreamCall
from gateway.routing.learned import Learned, Lessons
from gateway.routing.learned_reasoning import as_reasoning
from gateway.routing.picking import fitting_deployments, max_tokens, needs_estimate, sticky_point
from gateway.routing.strategies import STRATEGIES, Candidate, Selection, weighted_by_point
from gateway.routing.stream_end import StreamEnds
from gateway.state import BreakerState, StateBackend
from gateway.tracebacks import forget_tracebacks
from gateway.upstream import UpstreamTimeouts

# The most calls one attempt makes, asking again as each refusal said (`learned`): a strict
# server names one refused field at a time, and Codex sends three it may refuse.
MAX_ASKED = 4


class Router:
    def __init__(
        self,
        state: StateBackend,
        stats: DeploymentStats,
        metrics: Metrics,
        client_for: ClientFor,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.breakers = Breakers(state, metrics)
        self.stats = stats
        self.client_for = client_for
        self.clock = clock
        self.rng = rng
        self.cooldowns = Cooldowns()
        self.attempt_log = AttemptLog(clock)
        self.stream_ends = StreamEnds(stats, self.breakers, self.cooldowns, self.attempt_log, clock)
        self._turns: dict[str, int] = {}
        self.learned = Learned()

    def _build(
        self, request: RouteRequest, deployment: DeploymentConfig, lessons: Lessons | None = None
    ) -> UpstreamCall:
        """The call to `deployment`, with what was learned of it (`learned`) and the attempt's
        own `lessons` applied."""
        trace = request.trace
        learned = self.learned
        beta = request.anthropic_beta
        if beta is not None:
            provider = request.runtime.config.providers[deployment.provider]
            beta = learned.betas.header(provider, beta, lessons.betas if lessons else ())
        dropped = learned.drops.dropped(deployment.provider)
        deployment = learned.reasoning.deployment(deployment)
        api: DeploymentApi | None = None
        if lessons is not None:
            dropped += lessons.drops
            api = "responses" if lessons.responses is not None else None
            if lessons.reasoning:
                deployment = as_reasoning(deployment)
        return build_call(
            request.runtime,
            request.kind,
            request.body,
            beta,
            deployment,
            self.client_for,
            None if trace is None else (trace, trace.new_span_id(self.rng)),
            request.operation,
            api or learned.apis.api(deployment, request.kind, request.body),
            dropped,
        )

    async def route(self, request: RouteRequest, exchange: Exchange) -> None:
        """Serve the request from its model group or its fallbacks, filling `exchange`;
        raises the final GatewayError."""
        config = request.runtime.config
        deadline = request.started + config.server.request_timeout_s
        chain: list[str] = [request.model.name]
        seen: set[str] = set()
        last: AttemptFailed | None = None
        index = 0
        while index < len(chain):
            name = chain[index]
            index += 1
            if name in seen:
                continue
            seen.add(name)
            if request.models is not None and name not in request.models:
                # A fallback the key may not use: never called (nor billed to this key).
                exchange.fallbacks_skipped += (name,)
                continue
            model = config.models[name]
            if request.kind in OPENAI_ONLY_KINDS:  # its deployments that serve the endpoint
                serving = request.runtime.openai_only_models.get(name)
                if serving is None:
                    if name == request.model.name:
                        raise unserved(name, request.kind)
                    continue  # a fallback that cannot serve it: passed over, never called
                model = serving
            # `admit_fallback` is None unless a fallback model has limits of its own for the key.
            if request.admit_fallback is not None and index > 1:
                if not await request.admit_fallback(model):
                    # Its own limits for this key refused: passed over, never called.
                    exchange.fallbacks_limited += (name,)
                    continue
            needs = needs_estimate(model, request.body_bytes)
            tries = Tries(model, deadline, request.prompt_tokens() if needs else None, set())
            try:
                await self._try_model(request, exchange, tries)
                exchange.fallback_used = name != request.model.name
                return
            except AttemptFailed as failure:
                forget_tracebacks(failure)  # kept in `last`: no cycle through this frame
                last = failure
                if request.deployment is not None:
                    # Pinned: no other model holds the conversation, whatever the failure (a
                    # rate limit still gets its Retry-After below).
                    break
                if failure.context_window:
                    chain[index:index] = list(model.context_window_fallbacks)
                elif failure.content_policy:
                    chain[index:index] = list(model.content_policy_fallbacks)
                elif not failure.retryable:
                    raise failure.error from None
                else:
                    chain.extend(model.fallbacks)
            if self.clock.monotonic() >= deadline:
                break
        assert last is not None
        if last.rate_limited:
            if request.deployment is not None:  # pinned: only its own wait counts
                names = [request.deployment]
            else:
                skipped = exchange.fallbacks_skipped + exchange.fallbacks_limited
                models = [config.models[m] for m in seen if m not in skipped]
                names = [d.name for m in models for d in m.deployments]
            raise self.cooldowns.answer(last.error, names, self.clock.monotonic())
        raise last.error

    async def _try_model(self, request: RouteRequest, exchange: Exchange, tries: Tries) -> None:
        """Every allowed try on one model group; raises AttemptFailed with the last failure."""
        model = tries.model
        routing = request.runtime.config.routing
        prompt_tokens = tries.prompt_tokens
        batch = tokens.BATCH_FIELDS.get(request.kind) if prompt_tokens is not None else None
        if batch is not None:  # embeddings inputs, completion prompts: each must fit alone
            prompt_tokens = tokens.count_longest_prompt(request.body.get(batch))
        fitting = fitting_deployments(model, prompt_tokens, request.deployment)
        names = [d.name for d in fitting]
        # The first attempt on the requested model uses the breakers read with the limits
        # check (same round trip); later attempts and fallback models read them fresh.
        known = request.breakers if model.name == request.model.name else None
        for attempt_no in range(model.max_attempts or routing.max_attempts):
            if self.clock.monotonic() >= tries.deadline:
                break
            states = await self.breakers.states(
                names, self.clock.time(), known if attempt_no == 0 else None
            )
            choice = None
            if any(s.state == "half_open" for s in states.values()):
                choice = await probe_winner(
                    self.breakers, self.cooldowns, self.clock, request, fitting, tries, states
                )
            if choice is None:
                healthy = healthy_candidates(
                    self.stats, self.cooldowns, self.clock, fitting, tries, states
                )
                if not healthy:
                    break
                untried = [c for c in healthy if c.deployment.name not in tries.tried]
                if not untried:
                    if not await back_off(self.clock, self.rng, request, tries):
                        break
                    untried = healthy
                choice = self._pick(request, tries, untried, attempt_no == 0).deployment
            tries.tried.add(choice.name)
            try:
                await self._attempt(request, exchange, tries, choice, states)
                return
            except AttemptFailed as failure:
                forget_tracebacks(failure)  # kept in `tries`: no cycle through this frame
                tries.last = failure
                self._failed(request, exchange, choice, failure)
                if not failure.retryable:
                    raise
                if failure.elsewhere_only:  # this deployment cannot serve it: not again
                    fitting = [d for d in fitting if d is not choice]
                    names = [d.name for d in fitting]
                    if not fitting:
                        raise
        if tries.last is not None:
            raise tries.last
        raise AttemptFailed(
            UpstreamTimeout("the request deadline passed before an upstream answered"),
            retryable=False,
        )

    def _failed(
        self,
        request: RouteRequest,
        exchange: Exchange,
        deployment: DeploymentConfig,
        failure: AttemptFailed,
    ) -> None:
        """A failed attempt: bench the deployment when rate-limited or lacking its model, and
        say so in the log when the deployment is at fault (retryable failures, and the provider
        refusing the gateway's key); a client's own error (other 4xx) is not the operator's."""
        if not failure.retryable and failure.error.code != "upstream_auth_error":
            return
        now = self.clock.monotonic()
        routing = request.runtime.config.routing
        if failure.rate_limited:
            wait = failure.retry_after_s
            if wait is None:
                wait = routing.rate_limit_cooldown_s
            self.cooldowns.start(deployment.name, wait, failure.error, now)
        elif failure.missing_model:
            wait = routing.missing_model_cooldown_s
            self.cooldowns.start(deployment.name, wait, failure.error, now, rate_limit=False)
        kind = exchange.attempts[-1].error_kind if exchange.attempts else None
        cause = kind or failure.error.kind
        if failure.rate_limited and failure.error.code and failure.error.code != cause:
            cause = f"{cause} {failure.error.code}"
        self.attempt_log.failed(deployment.name, cause, request.request_id, failure.error.message)

    def _pick(
        self, request: RouteRequest, tries: Tries, candidates: list[Candidate], first: bool
    ) -> Candidate:
        model = tries.model
        if len(candidates) == 1:
            return candidates[0]
        if first and model.sticky != "none":
            user = request.body.get("user") if model.sticky == "user" else None
            subject = user if isinstance(user, str) else request.key_id
            return weighted_by_point(candidates, sticky_point(model.name, subject))
        turn = self._turns.get(model.name, 0)
        self._turns[model.name] = turn + 1
        selection = Selection(self.rng, turn, tries.prompt_tokens or 0, max_tokens(request))
        return STRATEGIES[model.strategy](candidates, selection)

    async def _attempt(
        self,
        request: RouteRequest,
        exchange: Exchange,
        tries: Tries,
        deployment: DeploymentConfig,
        states: Mapping[str, BreakerState],
    ) -> None:
        clock = self.clock
        remaining = max(0.001, tries.deadline - clock.monotonic())
        limits = deployment.timeouts
        first_byte_s = min(limits.first_token_s, remaining)
        connect_s = min(limits.connect_s, first_byte_s)
        timeouts = UpstreamTimeouts(connect_s, first_byte_s, limits.idle_s)
        call = self._build(request, deployment)
        client = self.client_for(call.provider)
        started = clock.monotonic()
        self.stats.started(deployment.name, tries.prompt_tokens or 0, started)
        ok = fault = False
        total_s = min(limits.total_s, remaining)
        try:
            lessons = None
            for asked in range(1, MAX_ASKED + 1):
                try:
                    await call_deployment(
                        request, exchange, tries.model, call, client, timeouts, total_s, clock
                    )
                    break
                except AttemptFailed as failure:
                    lessons = lessons or Lessons()
                    learned = self.learned.learn(request.kind, call, failure, lessons)
                    if not learned or asked == MAX_ASKED:
                        raise
                # Asked again as the refusal said, within what is left of the attempt's time.
                call = self._build(request, deployment, lessons)
                total_s = min(limits.total_s, max(0.001, tries.deadline - clock.monotonic()))
            if lessons is not None:
                self.learned.keep(deployment, lessons)
            ok = True
        except AttemptFailed as failure:
            # A rate limit (a 429, 529, or 503 that says it is busy) is never a fault.
            kind = exchange.attempts[-1].error_kind
            fault = not failure.rate_limited and is_deployment_fault(kind)
            raise
        finally:
            elapsed_ms = (clock.monotonic() - started) * 1000
            stream = exchange.stream if ok else None
            attempts = exchange.attempts
            kind = attempts[-1].error_kind if not ok and attempts else None
            # A timeout is a latency too (at least the timeout): without it a deployment that
            # hangs keeps the EWMA of its fast days, and lowest_latency sends it every request.
            measured = ok or (kind is not None and kind.endswith("timeout"))
            self.stats.finished(
                deployment.name,
                elapsed_ms if measured else None,
                elapsed_ms if measured and request.stream else None,
                streaming=stream is not None,
            )
            breaker = states.get(deployment.name, CLOSED)
            routing = request.runtime.config.routing
            if stream is not None and breaker.state == "closed":
                stream.on_end = self.stream_ends.on_end(
                    deployment.name, breaker, routing, request.request_id
                )
            elif ok and exchange.failure is not None:  # an answer that says it failed
                await self.stream_ends.relayed(
                    deployment.name, exchange.failure, breaker, routing, request.request_id
                )
            elif ok or fault:
                await self.breakers.record(deployment.name, ok, breaker, clock.time(), routing)
                if stream is not None:  # a probe: its first byte closes the breaker at once
                    stream.on_end = self.stream_ends.on_end(
                        deployment.name, CLOSED, routing, request.request_id
                    )
