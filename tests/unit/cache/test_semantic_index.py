from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from gateway.cache.semantic_index import SemanticIndex
from gateway.cache.semantic_vector import unit
from tests.procs import REPO, child_env


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
    assert math.isclose(match.similarity, math.sqrt(0.5), rel_tol=1e-6)  # float32 rows


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


def test_rows_of_discarded_entries_are_reused_and_never_match() -> None:
    index = SemanticIndex()
    for i in range(20):  # past the first matrix's 8 rows: it grows
        index.add("p", f"k{i}", _v(1.0, i / 10))
    for i in range(20):
        index.discard("p", f"k{i}")
    assert index.nearest("p", _v(1.0, 0.0), 0.5) is None
    index.add("p", "again", _v(0.0, 1.0))
    assert index.nearest("p", _v(1.0, 0.0), 0.5) is None  # zeroed rows are no match
    found = index.nearest("p", _v(0.0, 1.0), 0.5)
    assert found is not None and found.key == "again"


def test_an_entry_embedded_again_at_another_size_moves() -> None:
    index = SemanticIndex()
    index.add("p", "a", _v(1.0, 0.0))
    index.add("p", "a", _v(1.0, 0.0, 0.0))
    assert len(index) == 1
    assert index.nearest("p", _v(1.0, 0.0), 0.5) is None
    assert index.nearest("p", _v(1.0, 0.0, 0.0), 0.5) is not None


def test_a_full_index_of_real_sized_vectors_is_searched_in_one_product() -> None:
    """10,000 vectors of 1,536 dimensions (a real embedding model's): the nearest is found
    among them (a Python loop held the event loop for half a second for this)."""

    def vector(i: int) -> tuple[float, ...]:
        values = [0.0] * 1536
        values[i % 1536] = 1.0
        values[(i * 7 + 1) % 1536] = 0.5 + (i % 13) / 100
        return _v(*values)

    index = SemanticIndex()
    for i in range(10_000):
        index.add("p", f"k{i}", vector(i))
    found = index.nearest("p", vector(4242), 0.9)
    assert found is not None and found.key == "k4242"
    assert math.isclose(found.similarity, 1.0, rel_tol=1e-6)


SERVE_ONE_REQUEST = """
import sys

from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import load_config

app = create_app(load_config(sys.argv[1]), watch_config=False)
with TestClient(app) as client:
    answer = client.post(
        "/v1/chat/completions",
        headers={"Authorization": "Bearer sk-demo"},
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 200, answer.text
print("numpy" in sys.modules)
"""


def test_a_gateway_without_a_semantic_cache_never_loads_numpy(tmp_path: Path) -> None:
    """numpy (45-90 ms of a start) is loaded with the index's first vector, not at start:
    the example config (no semantic cache) starts and serves without it."""
    served = subprocess.run(
        [sys.executable, "-c", SERVE_ONE_REQUEST, str(REPO / "config.example.toml")],
        env=child_env(None),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert served.returncode == 0, served.stderr
    assert served.stdout.splitlines()[-1] == "False"
