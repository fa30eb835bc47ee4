"""The bounded cache of the in-process state: what it holds in memory stays within its byte bound
(plus a small overhead per entry), whatever buffer the stored value came in."""

from __future__ import annotations

import tracemalloc

import orjson

from gateway.state.lru import LruCache


def _stream_entry(n: int) -> bytes:
    # Shaped like a cached stream (gateway/cache/entries.py): ~6.6 KB of JSON from orjson, whose
    # `dumps` may return it in a block more than twice as large.
    chunk = f"data: {{'n': {n}, 'text': '{'x' * 300}'}}\n\n"
    return orjson.dumps({"kind": "stream", "chunks": [chunk] * 20, "usage": {}})


def test_held_memory_is_the_bytes_it_counts() -> None:
    cache = LruCache(max_entries=1_000, max_bytes=1 << 20)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(200):  # ~1.3 MB offered: the byte bound evicts the oldest
            cache.set(f"key-{n}", _stream_entry(n), 60.0, 0.0)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 100 < len(cache) < 200 and cache.bytes <= cache.max_bytes
    # Per entry: the value's and key's objects, the (expiry, value) tuple, the dict's slot.
    assert held < cache.bytes + 400 * len(cache), (held, cache.bytes, len(cache))
    assert cache.get("key-199", 1.0) == _stream_entry(199)
