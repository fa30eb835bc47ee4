"""What lives as long as the process: upstream clients, state, the record sink, the current runtime.

Injected into every stage, so tests can swap any edge (upstream, state, sink, randomness).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.config.types import ProviderConfig
from gateway.limits.limiter import Limiter
from gateway.observability.metrics import Metrics
from gateway.observability.record import build_record, cost_usd, request_usage
from gateway.observability.recorder import RecordSink
from gateway.pipeline.context import RequestContext
from gateway.providers import Usage
from gateway.routing.deployment_stats import DeploymentStats
from gateway.runtime import Runtime
from gateway.state import StateBackend
from gateway.upstream import UpstreamClient

if TYPE_CHECKING:
    from gateway.routing.router import Router

log = logging.getLogger("gateway")
# A finished request's record is written (and counted in the metrics) at the next request's
# first await (`record_soon`), or at the latest this long after it ended.
RECORD_WITHIN_S = 0.002


@dataclass
class Services:
    runtime: Runtime
    network: UpstreamClient
    mock: UpstreamClient
    recorder: RecordSink
    state: StateBackend
    metrics: Metrics = field(default_factory=Metrics)
    stats: DeploymentStats = field(default_factory=DeploymentStats)
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.time
    ready: bool = False
    router: Router = field(init=False)
    limiter: Limiter = field(init=False)
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    # Finished requests whose record is not written yet: (context, when it ended, its usage).
    _unrecorded: list[tuple[RequestContext, float, Usage | None]] = field(default_factory=list)
    _record_timer: asyncio.TimerHandle | None = None
    _record_soon: bool = False

    def __post_init__(self) -> None:
        from gateway.routing.router import Router

        self.router = Router(self)
        self.limiter = Limiter(
            self.state, self.metrics, self.runtime.config.state.on_redis_error, self.clock
        )

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run work off the request path; shutdown waits for it."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def client_for(self, provider: ProviderConfig) -> UpstreamClient:
        return self.mock if provider.type == "mock" else self.network

    def finish(self, ctx: RequestContext) -> None:
        """Settle the request's limits now; write its one record and count it in the metrics
        a moment later (`record_pending`). Never raises."""
        try:
            ended = time.monotonic()
            usage = request_usage(ctx)
            cost = cost_usd(usage, ctx.deployment) if usage else 0.0
            # Settled at once: other requests (on any replica) read the freed slot and the spend.
            try:
                self.limiter.settle(
                    ctx.limits_held,
                    usage.prompt_tokens + usage.completion_tokens if usage else 0,
                    cost,
                    ctx.key.spenders if ctx.key else (),
                )
            except Exception:  # the record is written whatever happens here
                log.exception("cannot settle request %s", ctx.request_id)
            self._unrecorded.append((ctx, ended, usage))
            if self._record_timer is None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    self.record_pending()
                    return
                self._record_timer = loop.call_later(RECORD_WITHIN_S, self._record_due)
        except Exception:
            log.exception("cannot record request %s", ctx.request_id)

    def record_soon(self) -> None:
        """Write the pending records at the caller's next await: a request calls this as it
        starts, so the previous request's bookkeeping runs while this one waits on its first
        round trip (Redis, the upstream) instead of delaying it."""
        if self._unrecorded and not self._record_soon:
            self._record_soon = True
            asyncio.get_running_loop().call_soon(self.record_pending)

    def _record_due(self) -> None:
        # The timer is left to run out rather than cancelled by every drain: at most one timer
        # per RECORD_WITHIN_S instead of one created and cancelled per request.
        self._record_timer = None
        self.record_pending()

    def record_pending(self) -> None:
        """Write and count the records of the requests finished so far; never raises."""
        self._record_soon = False
        pending, self._unrecorded = self._unrecorded, []
        for ctx, ended, usage in pending:
            try:
                # The config the request ran under, even if a reload happened since.
                record = build_record(ctx, ctx.runtime.config.logging.include_bodies, ended, usage)
                self.recorder.write(record)
                self.metrics.observe_record(record, ctx.runtime.config.models)
            except Exception:
                log.exception("cannot record request %s", ctx.request_id)

    async def aclose(self) -> None:
        if self._record_timer is not None:
            self._record_timer.cancel()
            self._record_timer = None
        self.record_pending()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.limiter.aclose()
        await self.network.aclose()
        await self.mock.aclose()
        await self.state.aclose()
        self.record_pending()
        self.recorder.close()
