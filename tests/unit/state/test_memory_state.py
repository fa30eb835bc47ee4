"""MemoryState only: its cache is an LRU bounded by entries and by bytes, and drops expired
entries when it meets them."""

from __future__ import annotations

from gateway.state import MemoryState
from tests.unit.state.contract import T0


async def test_memory_cache_is_lru_bounded_by_entries() -> None:
    state = MemoryState(max_entries=3)
    for key in ("a", "b", "c"):
        await state.set(key, b"x", 60, T0)
    assert await state.get("a", T0) == b"x"  # now "b" is the least recently used
    await state.set("d", b"x", 60, T0)
    assert await state.get("b", T0) is None
    assert [await state.get(k, T0) for k in ("a", "c", "d")] == [b"x"] * 3


async def test_memory_cache_is_lru_bounded_by_bytes() -> None:
    state = MemoryState(max_bytes=100)
    await state.set("a", b"1" * 40, 60, T0)
    await state.set("b", b"2" * 40, 60, T0)
    await state.set("c", b"3" * 40, 60, T0)  # 3 * 41 bytes > 100: "a" goes
    assert await state.get("a", T0) is None and await state.get("c", T0) == b"3" * 40
    await state.set("huge", b"4" * 200, 60, T0)  # larger than the whole cache: not kept
    assert await state.get("huge", T0) is None and await state.get("b", T0) is not None
    assert state.cache.bytes <= 100


async def test_memory_cache_drops_expired_entries_lazily() -> None:
    state = MemoryState()
    await state.set("a", b"x", 1, T0)
    assert len(state.cache) == 1
    assert await state.get("a", T0 + 2) is None
    assert len(state.cache) == 0
