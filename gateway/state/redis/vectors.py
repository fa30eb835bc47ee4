"""The semantic cache's shared vectors on the Redis state backend (`RedisState` inherits them):
one stream (`<prefix>:{semantic}:vectors`) that every process adds the vectors of the answers
it stores to, and reads the others' from (`gateway.pipeline.semantic_cache`). The entries are
the cache's own bytes (`gateway.cache.semantic_share`); this module only keeps them in order."""

from __future__ import annotations

import math

from gateway.state.base import SHARED_VECTORS_PAGE, StateUnavailable
from gateway.state.redis.client import RedisClient
from gateway.state.redis.keys import KeyNames
from gateway.state.redis.scripts import VECTOR_ADD, VECTOR_READ

# The most entries the stream keeps (as many as a process's index holds).
SHARED_VECTORS_MAX = 10_000


class RedisSharedVectors:
    """`StateBackend.share_vector` and `read_shared_vectors`; `RedisState` makes the client and
    the key names."""

    keys: KeyNames
    _client: RedisClient

    async def share_vector(self, entry: bytes, ttl_s: float) -> None:
        ttl_ms = max(1, math.ceil(ttl_s * 1000))
        await self._client.evalsha(
            VECTOR_ADD, [self.keys.vectors], [entry, SHARED_VECTORS_MAX, ttl_ms]
        )

    async def read_shared_vectors(self, after: str | None) -> tuple[list[bytes], str | None]:
        cursor = after or "0-0"
        reply = await self._client.evalsha(
            VECTOR_READ, [self.keys.vectors], [cursor, SHARED_VECTORS_PAGE]
        )
        if not isinstance(reply, list):
            raise StateUnavailable(f"redis: unexpected shared vectors reply {reply!r:.80}")
        items = [item for item in reply if isinstance(item, bytes)]
        if len(items) != len(reply) or len(items) % 2:
            raise StateUnavailable(f"redis: unexpected shared vectors reply {reply!r:.80}")
        ids, entries = items[0::2], items[1::2]
        return entries, ids[-1].decode() if ids else cursor
