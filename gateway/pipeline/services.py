"""What lives as long as the process: the edges (upstream clients, state, the record sink,
metrics, clock, randomness), the router and limiter built from them, the current runtime.

Injected into every stage, so tests can swap any edge (upstream, state, sink, randomness).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from gateway.cache.semantic_index import SemanticIndex
from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config.provider_types import ProviderConfig
from gateway.limits.limiter import Limiter
from gateway.observability.metrics import Metrics
from gateway.observability.recorder import RecordSink
from gateway.observability.trace_context import RequestTracer
from gateway.pipeline.record import RecordQueue
from gateway.routing.deployment_stats import DeploymentStats
from gateway.routing.router import Router
from gateway.runtime import Runtime
from gateway.state import StateBackend
from gateway.upstream import UpstreamClient
from gateway.upstream.transports import NetworkClients


@dataclass
class Services:
    runtime: Runtime  # swapped whole by a reload; a request keeps the one it started with
    network: NetworkClients  # each provider's network client (transports.py picks it)
    mock: UpstreamClient
    recorder: RecordSink
    state: StateBackend
    metrics: Metrics = field(default_factory=Metrics)
    stats: DeploymentStats = field(default_factory=DeploymentStats)
    rng: random.Random = field(default_factory=random.Random)
    clock: Clock = SYSTEM_CLOCK
    # Exports finished requests as spans ([tracing]; None when tracing is off).
    tracer: RequestTracer | None = None
    ready: bool = False
    # The semantic cache's vectors, per process (the entries live in `state`).
    semantic_index: SemanticIndex = field(default_factory=SemanticIndex)
    router: Router = field(init=False)
    limiter: Limiter = field(init=False)
    records: RecordQueue = field(init=False)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.router = Router(
            self.state, self.stats, self.metrics, self.client_for, self.clock, self.rng
        )
        on_error = self.runtime.config.state.on_redis_error
        self.limiter = Limiter(self.state, self.metrics, on_error, self.clock.time)
        self.records = RecordQueue(self.recorder, self.metrics, self.tracer)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run work off the request path; shutdown waits for it."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def client_for(self, provider: ProviderConfig) -> UpstreamClient:
        return self.mock if provider.type == "mock" else self.network.client(provider)

    async def aclose(self) -> None:
        self.records.write_pending()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.limiter.aclose()
        await self.network.aclose()
        await self.mock.aclose()
        await self.state.aclose()
        self.records.close()
        self.recorder.close()
        if self.tracer is not None:
            self.tracer.shutdown()
