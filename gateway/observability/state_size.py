"""What the memory state backend holds, as gauges read when /metrics is scraped (never on a
request's path): the response cache (`gateway_cache_entries`, `gateway_cache_bytes`), the
remembered Responses conversations and the limit counters (`gateway_state_entries`,
`gateway_state_bytes`), all with the label `backend = "memory"`.

Only the memory backend is measured: it lives in this process, every part of it bounded
(docs/limits-and-cache.md). A Redis backend is shared and bounded by Redis itself (its
`maxmemory`), so the gateway exports no sample for it.

With `--workers N` the worker a scrape reaches reads only its own memory; the others' values
are in the multiprocess files, so each worker writes its sizes there every `REFRESH_S`
seconds too (`refresh_state_size_every`) and the scrape adds up values at most that old.
"""

from __future__ import annotations

import asyncio

from gateway.observability.state_gauges import StateGauges
from gateway.state import MemoryState, StateBackend

REFRESH_S = 1.0
MEMORY = "memory"


def refresh_state_size(state: StateBackend, gauges: StateGauges) -> None:
    if not isinstance(state, MemoryState):
        return
    gauges.cache_entries.labels(MEMORY).set(len(state.cache))
    gauges.cache_bytes.labels(MEMORY).set(state.cache.bytes)
    gauges.state_entries.labels(MEMORY, "responses").set(len(state.remembered))
    gauges.state_bytes.labels(MEMORY, "responses").set(state.remembered.bytes)
    for kind, size in state.sizes().items():
        gauges.state_entries.labels(MEMORY, kind).set(size)


async def refresh_state_size_every(state: StateBackend, gauges: StateGauges) -> None:
    """Refresh this worker's sizes every `REFRESH_S` seconds, until cancelled (multiprocess
    mode only: a scrape another worker answers reads them from the files)."""
    while isinstance(state, MemoryState):
        refresh_state_size(state, gauges)
        await asyncio.sleep(REFRESH_S)
