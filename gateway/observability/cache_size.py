"""The response cache's size as gauges, read when /metrics is scraped (`gateway_cache_entries`,
`gateway_cache_bytes`, label `backend = "memory"`).

Only the memory backend's cache is measured: it lives in this process, bounded to 10,000
entries and 64 MiB (docs/limits-and-cache.md), and with `--workers N` the gauges add up the
workers' caches.
A Redis cache is shared and bounded by Redis itself (its `maxmemory`), so the gateway exports
no sample for it.
"""

from __future__ import annotations

from gateway.observability.metrics import Metrics
from gateway.state import MemoryState, StateBackend


def refresh_cache_size(state: StateBackend, metrics: Metrics) -> None:
    if isinstance(state, MemoryState):
        metrics.cache_entries.labels("memory").set(len(state.cache))
        metrics.cache_bytes.labels("memory").set(state.cache.bytes)
