"""The semantic cache's part of the cache stage: on an exact miss, embed the request's text
through the policy's embedding model (the gateway's own routing) and look for a stored answer
to a request worded alike (gateway/cache/semantic_index.py).

The embedding call has its own short deadline; its failure is a miss, never an error for the
client: logged at most once per 10 s (`failure_log`), counted as `gateway_cache_events_total
{result="embedding_error"}`. Its tokens and cost join the request's record.

The index is each process's own, but on Redis the processes share their vectors: each stored
answer's vector is added to the state's shared vectors (`index_and_share`), and each lookup first
reads into its index those the other processes (workers, replicas) added since its last read
(`read_shared`; a process that starts reads them all, oldest first, in the background), so a
request finds an answer any of them stored. A state failure there is counted and logged (at
most once a minute: `sharing_log`), and the lookup goes on with the index as it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from gateway import tokens
from gateway.cache.keys import cache_key
from gateway.cache.semantic_share import read_entry, shared_entry
from gateway.cache.semantic_text import SEMANTIC_KINDS, request_text, without_texts
from gateway.cache.semantic_use import SemanticUse
from gateway.cache.semantic_vector import Match, Vector, unit
from gateway.config.types import CacheConfig
from gateway.observability.cost import cost_usd
from gateway.pipeline.context import RequestContext
from gateway.pipeline.route import internal_call
from gateway.pipeline.services import Services
from gateway.state import StateUnavailable
from gateway.state.base import SHARED_VECTORS_PAGE

log = logging.getLogger("gateway.cache")

EMBEDDING_TIMEOUT_S = 2.0


class _FailureLog:
    """Logs one kind of failure at most once per `every_s` (one per process)."""

    def __init__(self, every_s: float, what: str) -> None:
        self.every_s = every_s
        self.what = what
        self.last = float("-inf")

    def warn(self, why: str) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            log.warning("semantic cache: %s: %s", self.what, why)


failure_log = _FailureLog(10.0, "the embedding call failed, treated as a miss")
sharing_log = _FailureLog(
    60.0, "the vectors shared with the other processes are out of reach (this one's index serves)"
)


def semantic_use(
    ctx: RequestContext,
    cache: CacheConfig,
    keyed: dict[str, Any],
    endpoint: str,
    namespace: str | None,
) -> SemanticUse | None:
    """The request's partition when its endpoint compares by meaning (its policy's cache is
    semantic), else None."""
    if ctx.endpoint.kind not in SEMANTIC_KINDS:
        return None
    # The embedding model joins the partition: two models' vectors are not comparable.
    where = f"{endpoint}#semantic:{cache.embedding_model}"
    return SemanticUse(cache_key(where, without_texts(keyed), namespace))


async def semantic_lookup(
    ctx: RequestContext, services: Services, cache: CacheConfig, use: SemanticUse
) -> tuple[bytes, Match] | None:
    """The stored entry of the nearest request worded alike, if similar enough; else None
    (with `use.vector` set when the text was embedded, so the answer can be indexed)."""
    assert ctx.body is not None
    text = request_text(ctx.body)
    if not text.strip():
        return None
    use.vector = await _embed(ctx, services, cache, text, use)
    if use.vector is None:
        return None
    await read_shared(services)
    index = services.semantic_index
    match = index.nearest(use.partition, use.vector, cache.similarity)
    if match is None:
        return None
    try:
        raw = await services.state.get(match.key, services.clock.time())
    except StateUnavailable as exc:
        services.metrics.state_error(exc.kind)
        return None
    if raw is None:  # expired or evicted: its vector goes too
        index.discard(use.partition, match.key)
        return None
    return raw, match


async def read_shared(services: Services) -> None:
    """The vectors the other processes on this state shared since the last read, into this
    process's index (none on the memory state): a page now; when it was full (a process that
    started, or fell behind), the rest in the background, a page at a time, oldest first."""
    index = services.semantic_index
    if index.catching_up:
        return  # the background reader is at it: this lookup searches what is indexed
    if await _read_page(services) >= SHARED_VECTORS_PAGE:
        index.catching_up = True
        services.spawn(_catch_up(services))


async def _read_page(services: Services) -> int:
    """One page of shared vectors into the index; how many it held (0: the state failed)."""
    index = services.semantic_index
    try:
        entries, index.shared_cursor = await services.state.read_shared_vectors(index.shared_cursor)
    except StateUnavailable as exc:
        services.metrics.state_error(exc.kind)
        sharing_log.warn(str(exc))
        return 0
    for entry in entries:
        found = read_entry(entry)
        if found is not None:
            index.add_shared(*found)
    return len(entries)


async def _catch_up(services: Services) -> None:
    try:
        while await _read_page(services) >= SHARED_VECTORS_PAGE:
            pass
    finally:
        services.semantic_index.catching_up = False


async def index_and_share(services: Services, use: SemanticUse, key: str, ttl_s: float) -> None:
    """Index the stored answer's vector here, and share it with the other processes."""
    assert use.vector is not None
    services.semantic_index.add(use.partition, key, use.vector)
    try:
        await services.state.share_vector(shared_entry(use.partition, key, use.vector), ttl_s)
    except StateUnavailable as exc:
        services.metrics.state_error(exc.kind)
        sharing_log.warn(str(exc))


async def _embed(
    ctx: RequestContext, services: Services, cache: CacheConfig, text: str, use: SemanticUse
) -> Vector | None:
    name = cache.embedding_model
    model = ctx.runtime.config.models.get(name) if name is not None else None
    if model is None:  # refused at load; a reload cannot leave it so, but never fail here
        _failed(services, f"embedding model '{name}' is not configured")
        return None
    body = {"model": model.name, "input": text}
    try:
        async with asyncio.timeout(EMBEDDING_TIMEOUT_S):
            exchange = await internal_call(
                ctx, services, "embeddings", body, model, lambda: tokens.count_text(text)
            )
    except TimeoutError:
        _failed(services, f"no answer within {EMBEDDING_TIMEOUT_S} s")
        return None
    except Exception as exc:  # any failure of the lookup is a miss
        _failed(services, repr(exc))
        return None
    if exchange.usage is not None:
        use.embedding_tokens = exchange.usage.prompt_tokens
        use.embedding_cost_usd = cost_usd(exchange.usage, exchange.deployment)
    vector = _first_vector(exchange.json)
    if vector is None:
        _failed(services, "the embeddings answer holds no usable vector")
    return vector


def _first_vector(answer: dict[str, Any] | None) -> Vector | None:
    try:
        values = answer["data"][0]["embedding"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        return None
    return unit(values)


def _failed(services: Services, why: str) -> None:
    services.metrics.cache_events.add(("embedding_error",), 1.0)
    failure_log.warn(why)
