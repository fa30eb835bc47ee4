"""The semantic cache's index: the vectors of stored answers, per process, searched by cosine.

Each vector belongs to a partition (the exact cache key of its request without the message
texts: same endpoint, model, parameters, tools, team) and names the cache entry it stands for;
the entries themselves live in the state backend. Bounded: past `max_entries`, the oldest
vector goes.

A partition's vectors of one size are the rows of one float32 matrix (another embedding model's
vectors are never compared): gateway/cache/semantic_rows.py, which imports numpy. That module is
imported here with the first vector the index keeps, not at start: numpy costs a start 45-90 ms
on the 2-vCPU VM, and a gateway whose routes use no semantic cache never keeps a vector.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from gateway.cache.semantic_vector import Match, Vector

if TYPE_CHECKING:
    from gateway.cache.semantic_rows import Row, Rows

# As many vectors as the memory cache keeps entries (gateway/state/memory.py).
DEFAULT_MAX_ENTRIES = 10_000


class SemanticIndex:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        # (partition, vector size) -> its rows; `_order` keeps (partition, key) -> size, oldest
        # first.
        self._rows: dict[tuple[str, int], Rows] = {}
        self._order: OrderedDict[tuple[str, str], int] = OrderedDict()
        # How far the vectors other processes shared have been read into this index (the
        # state's cursor: `StateBackend.read_shared_vectors`); None before the first read.
        self.shared_cursor: str | None = None
        # Whether a background reader is bringing it up to date (`read_shared`).
        self.catching_up = False

    def __len__(self) -> int:
        return len(self._order)

    def add(self, partition: str, key: str, vector: Vector) -> None:
        """Remember `vector` (unit length) for the entry `key`; a key added again is renewed."""
        self._add(partition, key, vector)

    def add_shared(self, partition: str, key: str, values: bytes) -> None:
        """Remember the vector another process shared (`gateway.cache.semantic_share`):
        little-endian float32 `values`, scaled to unit length here; passed over when they are
        zeros or not finite."""
        from gateway.cache.semantic_rows import unit_row  # numpy, with the first vector

        row = unit_row(values)
        if row is not None:
            self._add(partition, key, row)

    def _add(self, partition: str, key: str, vector: Row) -> None:
        size = self._order.get((partition, key))
        if size is not None and size != len(vector):
            self.discard(partition, key)  # embedded again by a model of another size
        rows = self._rows.get((partition, len(vector)))
        if rows is None:
            from gateway.cache.semantic_rows import Rows  # numpy, with the first vector

            rows = self._rows[(partition, len(vector))] = Rows(len(vector))
        rows.add(key, vector)
        self._order[(partition, key)] = len(vector)
        self._order.move_to_end((partition, key))
        while len(self._order) > self.max_entries:
            self.discard(*next(iter(self._order)))

    def discard(self, partition: str, key: str) -> None:
        """Forget the entry `key` (expired, or no longer servable)."""
        size = self._order.pop((partition, key), None)
        if size is None:
            return
        rows = self._rows[(partition, size)]
        rows.discard(key)
        if not rows.row_of:
            del self._rows[(partition, size)]

    def nearest(self, partition: str, vector: Vector, threshold: float) -> Match | None:
        """The entry of `partition` most similar to `vector`, if at least `threshold`."""
        rows = self._rows.get((partition, len(vector)))
        return rows.nearest(vector, threshold) if rows is not None else None
