"""What the router learns when a stream it handed over ends.

A stream's outcome is the whole stream's: it stays in flight on its deployment until it is
over, and the breaker hears how it ended (a success at the first byte would clear the failures
of a deployment that cuts every stream mid-body). An upstream that says in the stream, after
its first byte, that it is overloaded or rate-limited (Anthropic's `overloaded_error` event, an
OpenAI-shaped `rate_limit_error` chunk) is a 529 / 429 said late: its deployment is benched as
one said before the first byte is (`Cooldowns`), and its breaker is left alone. A JSON answer
relayed as it is that says it failed (a Responses `"status": "failed"`) has the same outcome
(`relayed`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.clock import Clock
from gateway.config.types import RoutingConfig
from gateway.errors import GatewayError, UpstreamStreamError
from gateway.routing.attempt_log import AttemptLog
from gateway.routing.breakers import Breakers
from gateway.routing.cooldowns import Cooldowns
from gateway.routing.deployment_stats import DeploymentStats
from gateway.state import BreakerState

# Told once when a stream is over: whether the upstream broke it, and the error it ended with
# when it said it is busy (overloaded, rate-limited).
OnEnd = Callable[[bool, GatewayError | None], Awaitable[None]]


class StreamEnds:
    def __init__(
        self,
        stats: DeploymentStats,
        breakers: Breakers,
        cooldowns: Cooldowns,
        attempt_log: AttemptLog,
        clock: Clock,
    ) -> None:
        self.stats = stats
        self.breakers = breakers
        self.cooldowns = cooldowns
        self.attempt_log = attempt_log
        self.clock = clock

    def on_end(
        self, name: str, before: BreakerState, routing: RoutingConfig, request_id: str
    ) -> OnEnd:
        """What a stream served by `name` does when it is over: leave the in-flight count; when
        the upstream said it is busy, bench the deployment for `rate_limit_cooldown_s` (a
        stream's 200 named no wait) and log it; else give the breaker the stream's outcome (a
        failure the upstream caused: idle timeout, cut or malformed stream). A half-open
        probe's first byte has closed the breaker already (`before` is then CLOSED): traffic
        resumes without waiting for the stream's end."""

        async def ended(upstream_fault: bool, busy: GatewayError | None) -> None:
            self.stats.ended(name)
            if busy is not None:
                self._benched(name, busy, routing, request_id)
                return
            await self.breakers.record(name, not upstream_fault, before, self.clock.time(), routing)

        return ended

    async def relayed(
        self,
        name: str,
        failure: UpstreamStreamError,
        before: BreakerState,
        routing: RoutingConfig,
        request_id: str,
    ) -> None:
        """A JSON answer served by `name` that reports its own failure (a Responses
        `"status": "failed"`), relayed as it is: the outcome a stream ending with that failure
        has (`send_stream`): benched when it says the upstream is busy, else a failure for the
        breaker unless the error names a refusal of the request. (`ended`'s two branches, not
        shared through a call: every stream would pay for it.)"""
        if failure.rate_limited:
            self._benched(name, failure, routing, request_id)
            return
        fault = failure.upstream_fault
        await self.breakers.record(name, not fault, before, self.clock.time(), routing)

    def _benched(
        self, name: str, busy: GatewayError, routing: RoutingConfig, request_id: str
    ) -> None:
        self.cooldowns.start(name, routing.rate_limit_cooldown_s, busy, self.clock.monotonic())
        self.attempt_log.failed(name, busy.kind, request_id, busy.message)
