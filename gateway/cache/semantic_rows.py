"""The semantic cache index's vectors as numpy rows: one float32 matrix per partition and
vector size, searched by one matrix-vector product (gateway/cache/semantic_index.py).

About 1.2 ms for 10,000 vectors of 1,536 dimensions on the 2-vCPU VM, where a Python loop over
them held the event loop for half a second. Rows of discarded vectors are zeroed and reused; the
matrix doubles when full. Memory: 4 bytes per dimension per vector (61 MB for 10,000 of 1,536).

The only module of the gateway that imports numpy; `SemanticIndex` imports it with the first
vector it keeps, so a gateway whose routes use no semantic cache never loads numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gateway.cache.semantic_vector import Match, Vector

# What a vector may be given to the rows as: values, or float32 values already in an array (a
# shared vector read from the state: no tuple of a Python float per dimension on the way).
Row = Vector | npt.NDArray[np.float32]


def unit_row(values: bytes) -> npt.NDArray[np.float32] | None:
    """Little-endian float32 `values` (a vector another process shared) as a row of unit
    length: about 5 us for 1,536 dimensions, where a tuple of floats took 45 us to make and as
    long again to add; None for zeros or a value that is not finite."""
    array = np.frombuffer(values, dtype="<f4").astype(np.float32)  # little-endian to native
    norm = float(np.linalg.norm(array.astype(np.float64)))
    if not norm or not np.isfinite(norm):
        return None
    return array / np.float32(norm)


class Rows:
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
