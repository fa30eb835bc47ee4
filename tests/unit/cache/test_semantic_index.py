from __future__ import annotations

import math

from gateway.cache.semantic_index import SemanticIndex, unit


def _v(*values: float) -> tuple[float, ...]:
    vector = unit(values)
    assert vector is not None
    return vector


def test_unit_scales_to_length_one_and_refuses_zero_and_nan() -> None:
    assert _v(3.0, 4.0) == (0.6, 0.8)
    assert unit([0.0, 0.0]) is None
    assert unit([]) is None
    assert unit([math.nan, 1.0]) is None


def test_nearest_is_the_most_similar_entry_above_the_threshold() -> None:
    index = SemanticIndex()
    index.add("p", "far", _v(0.0, 1.0))
    index.add("p", "near", _v(1.0, 0.1))
    index.add("p", "nearer", _v(1.0, 0.01))
    match = index.nearest("p", _v(1.0, 0.0), 0.9)
    assert match is not None and match.key == "nearer"
    assert match.similarity > 0.999


def test_below_the_threshold_is_no_match() -> None:
    index = SemanticIndex()
    index.add("p", "a", _v(1.0, 1.0))
    assert index.nearest("p", _v(1.0, 0.0), 0.95) is None
    match = index.nearest("p", _v(1.0, 0.0), 0.7)
    assert match is not None and match.key == "a"
    assert math.isclose(match.similarity, math.sqrt(0.5))


def test_only_the_requests_partition_is_searched() -> None:
    index = SemanticIndex()
    index.add("model-a", "a", _v(1.0, 0.0))
    assert index.nearest("model-b", _v(1.0, 0.0), 0.5) is None
    assert index.nearest("model-a", _v(1.0, 0.0), 0.5) is not None


def test_vectors_of_another_size_are_not_compared() -> None:
    index = SemanticIndex()
    index.add("p", "a", _v(1.0, 0.0, 0.0))
    assert index.nearest("p", _v(1.0, 0.0), 0.5) is None


def test_the_oldest_vector_goes_past_the_bound() -> None:
    index = SemanticIndex(max_entries=2)
    index.add("p", "first", _v(1.0, 0.0))
    index.add("q", "second", _v(1.0, 0.0))
    index.add("p", "first", _v(1.0, 0.0))  # renewed: now the newest
    index.add("p", "third", _v(0.0, 1.0))
    assert len(index) == 2
    assert index.nearest("q", _v(1.0, 0.0), 0.5) is None
    found = index.nearest("p", _v(1.0, 0.0), 0.5)
    assert found is not None and found.key == "first"


def test_discard_forgets_an_entry() -> None:
    index = SemanticIndex()
    index.add("p", "a", _v(1.0, 0.0))
    index.discard("p", "a")
    index.discard("p", "missing")
    assert len(index) == 0 and index.nearest("p", _v(1.0, 0.0), 0.5) is None
