"""`gateway_deployment_up` read from the breakers when /metrics is scraped.

The router writes the gauge when a request reads a breaker that changed, so a deployment
whose breaker opened stayed down in /metrics for as long as no request was routed to it,
cooldown long over: after an outage clients that had moved to a fallback left the alert
paging. With `--workers N` the worker that saw it open said so for as long as none of its
requests went there. Read at scrape time (the breakers are in the state backend, shared with
Redis), the gauge says what routing would do now; multiprocess mode shows the reading of the
worker the scrape reached (`livemostrecent`). A state backend that does not answer within
`READ_WITHIN_S` leaves the gauge as it was.

A deployment taken out of the config leaves the gauge at the next scrape: else one removed
while its breaker was open (as an operator does with a broken deployment) stayed at 0 and
paged until the gateway restarted. Multiprocess mode cannot drop a series from the shared
files, so there it is set to 1 (nothing is down).
"""

from __future__ import annotations

import asyncio
import logging

from gateway.config.types import GatewayConfig
from gateway.observability.metrics import Metrics, multiprocess_enabled
from gateway.state import StateBackend, StateUnavailable

log = logging.getLogger("gateway")
READ_WITHIN_S = 1.0


async def refresh_deployment_up(
    state: StateBackend, config: GatewayConfig, metrics: Metrics, now: float
) -> None:
    names = [d.name for model in config.models.values() for d in model.deployments]
    try:
        async with asyncio.timeout(READ_WITHIN_S):
            states = await state.breaker_states(names, now)
    except (TimeoutError, StateUnavailable) as exc:
        log.warning("deployment_up not refreshed: state backend %s", type(exc).__name__)
        return
    for name in names:
        breaker = states.get(name)
        up = 0 if breaker is not None and breaker.state == "open" else 1
        metrics.child(metrics.deployment_up, name).set(up)
    _forget_removed(metrics, set(names))


def _forget_removed(metrics: Metrics, configured: set[str]) -> None:
    gauge = metrics.deployment_up
    for family in gauge.collect():
        for sample in family.samples:
            name = sample.labels["deployment"]
            if name in configured:
                continue
            if multiprocess_enabled():
                gauge.labels(name).set(1)
            else:
                metrics.forget(gauge, name)
