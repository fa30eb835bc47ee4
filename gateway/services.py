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
from gateway.context import RequestContext
from gateway.limits import Limiter
from gateway.observability.metrics import Metrics
from gateway.observability.record import build_record
from gateway.observability.recorder import RecordSink
from gateway.routing.stats import DeploymentStats
from gateway.runtime import Runtime
from gateway.state import StateBackend
from gateway.upstream import UpstreamClient

if TYPE_CHECKING:
    from gateway.routing.router import Router

log = logging.getLogger("gateway")


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

    def __post_init__(self) -> None:
        from gateway.routing.router import Router

        self.router = Router(self)
        self.limiter = Limiter(self.state, self.metrics, self.runtime.config.state.on_redis_error, self.clock)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run work off the request path; shutdown waits for it."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def client_for(self, provider: ProviderConfig) -> UpstreamClient:
        return self.mock if provider.type == "mock" else self.network

    def finish(self, ctx: RequestContext) -> None:
        """Write the request's one record and count it in the metrics; never raises."""
        try:
            record = build_record(ctx, self.runtime.config.logging.include_bodies)
            # The settlement first: its write to Redis then runs there while this process
            # hands the record over and counts it.
            spenders = (("key", ctx.key.id), ("team", ctx.key.team or "")) if ctx.key else ()
            try:
                self.limiter.settle(
                    ctx.limits_held,
                    record["prompt_tokens"] + record["completion_tokens"],
                    record["cost_usd"],
                    tuple(s for s in spenders if s[1]),
                )
            except Exception:  # the record is written whatever happens here
                log.exception("cannot settle request %s", ctx.request_id)
            self.recorder.write(record)
            self.metrics.observe_record(record, ctx.runtime.config.models)
        except Exception:
            log.exception("cannot record request %s", ctx.request_id)

    async def aclose(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.limiter.aclose()
        await self.network.aclose()
        await self.mock.aclose()
        await self.state.aclose()
        self.recorder.close()
