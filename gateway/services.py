"""What lives as long as the process: upstream clients, the record sink, the current runtime.

Injected into every stage, so tests can swap any edge (upstream, sink, clock, randomness).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from gateway.config.types import ProviderConfig
from gateway.context import RequestContext
from gateway.observability.record import build_record
from gateway.observability.metrics import Metrics
from gateway.observability.recorder import RecordSink
from gateway.runtime import Runtime
from gateway.upstream import UpstreamClient

log = logging.getLogger("gateway")


@dataclass
class Services:
    runtime: Runtime
    network: UpstreamClient
    mock: UpstreamClient
    recorder: RecordSink
    metrics: Metrics = field(default_factory=Metrics)
    rng: random.Random = field(default_factory=random.Random)
    ready: bool = False

    def client_for(self, provider: ProviderConfig) -> UpstreamClient:
        return self.mock if provider.type == "mock" else self.network

    async def aclose(self) -> None:
        await self.network.aclose()
        await self.mock.aclose()
        self.recorder.close()

    def finish(self, ctx: "RequestContext") -> None:
        """Write the request's one record and count it in the metrics; never raises."""
        try:
            record = build_record(ctx, self.runtime.config.logging.include_bodies)
            self.recorder.write(record)
            self.metrics.observe_record(record, ctx.runtime.config.models)
        except Exception:
            log.exception("cannot record request %s", ctx.request_id)
