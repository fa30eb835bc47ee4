"""The semantic cache's index: the vectors of stored answers, per process, searched by cosine.

Each vector belongs to a partition (the exact cache key of its request without the message
texts: same endpoint, model, parameters, tools, team) and names the cache entry it stands for;
the entries themselves live in the state backend. Bounded: past `max_entries`, the oldest
vector goes. Plain Python math: a lookup compares only with the vectors of its own partition.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

# As many vectors as the memory cache keeps entries (gateway/state/memory.py).
DEFAULT_MAX_ENTRIES = 10_000

Vector = tuple[float, ...]


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


class SemanticIndex:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        # partition -> cache key -> unit vector; `_order` keeps (partition, key), oldest first.
        self._partitions: dict[str, dict[str, Vector]] = {}
        self._order: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._order)

    def add(self, partition: str, key: str, vector: Vector) -> None:
        """Remember `vector` (unit length) for the entry `key`; a key added again is renewed."""
        entries = self._partitions.setdefault(partition, {})
        entries[key] = vector
        self._order[(partition, key)] = None
        self._order.move_to_end((partition, key))
        while len(self._order) > self.max_entries:
            self.discard(*next(iter(self._order)))

    def discard(self, partition: str, key: str) -> None:
        """Forget the entry `key` (expired, or no longer servable)."""
        self._order.pop((partition, key), None)
        entries = self._partitions.get(partition)
        if entries is not None:
            entries.pop(key, None)
            if not entries:
                del self._partitions[partition]

    def nearest(self, partition: str, vector: Vector, threshold: float) -> Match | None:
        """The entry of `partition` most similar to `vector`, if at least `threshold`."""
        best: Match | None = None
        for key, stored in self._partitions.get(partition, {}).items():
            if len(stored) != len(vector):
                continue  # another embedding model's size: not comparable
            similarity = sum(a * b for a, b in zip(stored, vector, strict=True))
            if similarity >= threshold and (best is None or similarity > best.similarity):
                best = Match(key, similarity)
        return best
