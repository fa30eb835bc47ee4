"""The semantic cache's index: the vectors of stored answers, per process, searched by cosine.

Each vector belongs to a partition (the exact cache key of its request without the message
texts: same endpoint, model, parameters, tools, team) and names the cache entry it stands for;
the entries themselves live in the state backend. Bounded: past `max_entries`, the oldest
vector goes.

A partition's vectors are the rows of one float32 matrix (per vector size: another embedding
model's vectors are never compared), so a lookup is one matrix-vector product: about 1.2 ms for
10,000 vectors of 1,536 dimensions on the 2-vCPU VM, where a Python loop over them held the
event loop for half a second. Rows of discarded vectors are zeroed and reused; the matrix
doubles when full. Memory: 4 bytes per dimension per vector (61 MB for 10,000 of 1,536).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# As many vectors as the memory cache keeps entries (gateway/state/memory.py).
DEFAULT_MAX_ENTRIES = 10_000

Vector = tuple[float, ...]
# What a vector may be given to the index as: values, or float32 values already in an array (a
# shared vector read from the state: no tuple of a Python float per dimension on the way).
Row = Vector | npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Match:
    """The stored entry nearest to a request, and how similar (cosine) it is."""

    key: str
    similarity: float


def unit(values: Sequence[float]) -> Vector | None:
    """`values` scaled to length 1; None for a zero, empty or non-finite vector."""
    norm = math.sqrt(math.fsum(v * v for v in values))
    if not norm or not math.isfinite(norm):
        return None
    return tuple(v / norm for v in values)


class _Rows:
    """The vectors of one partition and one size: matrix rows, and which entry each row is."""

    def __init__(self, size: int) -> None:
        self.matrix: npt.NDArray[np.float32] = np.zeros((8, size), dtype=np.float32)
        self.keys: list[str | None] = []  # row -> entry (None: a free row, all zeros)
        self.row_of: dict[str, int] = {}
        self.free: list[int] = []

    def add(self, key: str, vector: Row) -> None:
        row = self.row_of.get(key)
        if row is None:
            if self.free:
                row = self.free.pop()
            else:
                row = len(self.keys)
                if row == len(self.matrix):
                    grown = np.zeros((2 * row, self.matrix.shape[1]), dtype=np.float32)
                    grown[:row] = self.matrix
                    self.matrix = grown
                self.keys.append(None)
            self.row_of[key] = row
            self.keys[row] = key
        self.matrix[row] = vector

    def discard(self, key: str) -> None:
        row = self.row_of.pop(key, None)
        if row is not None:
            self.matrix[row] = 0.0
            self.keys[row] = None
            self.free.append(row)

    def nearest(self, vector: Vector, threshold: float) -> Match | None:
        # Free rows are zeros: similarity 0, below any threshold (at least 0.5).
        similarities = self.matrix[: len(self.keys)] @ np.asarray(vector, dtype=np.float32)
        row = int(np.argmax(similarities))
        key, similarity = self.keys[row], float(similarities[row])
        if key is None or similarity < threshold:
            return None
        return Match(key, min(similarity, 1.0))


class SemanticIndex:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        # (partition, vector size) -> its rows; `_order` keeps (partition, key) -> size, oldest
        # first.
        self._rows: dict[tuple[str, int], _Rows] = {}
        self._order: OrderedDict[tuple[str, str], int] = OrderedDict()
        # How far the vectors other processes shared have been read into this index (the
        # state's cursor: `StateBackend.read_shared_vectors`); None before the first read.
        self.shared_cursor: str | None = None
        # Whether a background reader is bringing it up to date (`read_shared`).
        self.catching_up = False

    def __len__(self) -> int:
        return len(self._order)

    def add(self, partition: str, key: str, vector: Row) -> None:
        """Remember `vector` (unit length) for the entry `key`; a key added again is renewed."""
        size = self._order.get((partition, key))
        if size is not None and size != len(vector):
            self.discard(partition, key)  # embedded again by a model of another size
        rows = self._rows.get((partition, len(vector)))
        if rows is None:
            rows = self._rows[(partition, len(vector))] = _Rows(len(vector))
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
