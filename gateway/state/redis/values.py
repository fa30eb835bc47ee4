"""The cache entries and remembered values of the Redis state backend (`RedisState`, which
inherits them): each a string of an 8-byte expiry (big-endian double) and the value, under its
own hash tag (`keys.py`), so entries spread over cluster shards."""

from __future__ import annotations

import math
import struct

from gateway.state.redis.client import RedisClient
from gateway.state.redis.keys import CACHE_ENTRY_MAX_BYTES, KeyNames

_EXPIRY = struct.Struct(">d")


class RedisValues:
    """Cache entries and remembered values; `RedisState` makes the client and the key names."""

    keys: KeyNames
    _client: RedisClient

    # -- cache ------------------------------------------------------------------------------

    async def get(self, key: str, now: float) -> bytes | None:
        stored = await self._client.execute("GET", self.keys.cache_key(key))
        if not isinstance(stored, bytes) or len(stored) < _EXPIRY.size:
            return None
        (expiry,) = _EXPIRY.unpack_from(stored)
        return None if expiry <= now else stored[_EXPIRY.size :]

    async def set(self, key: str, value: bytes, ttl_s: float, now: float) -> None:
        """Store a cache entry; one over `CACHE_ENTRY_MAX_BYTES` is not stored (`keys.py`)."""
        if ttl_s <= 0 or len(value) > CACHE_ENTRY_MAX_BYTES:
            # Nor is the entry it was to replace kept (as in memory): that answer is older.
            await self.delete(key)
            return
        await self._client.execute(
            "SET",
            self.keys.cache_key(key),
            _EXPIRY.pack(now + ttl_s) + value,
            "PX",
            max(1, math.ceil(ttl_s * 1000)),
        )

    async def delete(self, key: str) -> None:
        await self._client.execute("DEL", self.keys.cache_key(key))

    # -- remembered values --------------------------------------------------------------------

    async def remember(self, key: str, value: bytes, ttl_s: float, now: float) -> None:
        if ttl_s <= 0:
            await self.forget(key)
            return
        await self._client.execute(
            "SET",
            self.keys.remembered_key(key),
            _EXPIRY.pack(now + ttl_s) + value,
            "PX",
            max(1, math.ceil(ttl_s * 1000)),
        )

    async def recall(self, key: str, now: float) -> bytes | None:
        stored = await self._client.execute("GET", self.keys.remembered_key(key))
        if not isinstance(stored, bytes) or len(stored) < _EXPIRY.size:
            return None
        (expiry,) = _EXPIRY.unpack_from(stored)
        return None if expiry <= now else stored[_EXPIRY.size :]

    async def forget(self, key: str) -> None:
        await self._client.execute("DEL", self.keys.remembered_key(key))
