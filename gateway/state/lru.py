"""A bounded key-value cache with expiry: least recently used entries go first, bounded by
entry count and by bytes. Expired entries are dropped when met."""

from __future__ import annotations

from collections import OrderedDict


class LruCache:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0  # sum of len(key) + len(value) over the entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = (
            OrderedDict()
        )  # key -> (expiry, value)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, now: float) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expiry, value = entry
        if expiry <= now:
            self.delete(key)
            return None
        self._entries.move_to_end(key)
        return value

    def set(self, key: str, value: bytes, ttl_s: float, now: float) -> None:
        self.delete(key)
        size = len(key) + len(value)
        if ttl_s <= 0 or size > self.max_bytes or self.max_entries <= 0:
            return
        # Kept as a copy of exactly its length: a serialiser's output can sit in a buffer far larger
        # than itself (orjson's `dumps` returns 6.6 KB in a 16 KB block), and the entries would
        # hold over twice the bytes they are bounded by, untouched tails included (RSS creeping
        # up as those pages are reused).
        self._entries[key] = (now + ttl_s, bytes(memoryview(value)))
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            oldest, (_, old_value) = self._entries.popitem(last=False)
            self.bytes -= len(oldest) + len(old_value)

    def delete(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= len(key) + len(entry[1])
