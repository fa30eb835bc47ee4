"""A semantic cache vector and a match, as the pipeline and the index pass them (no numpy: the
index's rows, gateway/cache/semantic_rows.py, are the only place that needs it)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
