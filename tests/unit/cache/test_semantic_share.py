"""The bytes of a shared semantic cache vector (`gateway.cache.semantic_share`): what one process
writes, another reads back into its index; any other bytes are passed over."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from gateway.cache.semantic_index import SemanticIndex
from gateway.cache.semantic_rows import unit_row
from gateway.cache.semantic_share import read_entry, shared_entry
from gateway.cache.semantic_vector import unit


def test_an_entry_reads_back_as_it_was_shared() -> None:
    vector = unit([3.0, -4.0, 0.5, 12.0])
    assert vector is not None
    partition, key = "team-é:/v1/chat#semantic:embed:ab12", "team-é:/v1/chat:ff00"
    found = read_entry(shared_entry(partition, key, vector))
    assert found is not None
    assert found[:2] == (partition, key)
    assert found[2] == np.asarray(vector, dtype="<f4").tobytes()  # little-endian float32
    row = unit_row(found[2])
    assert row is not None and row.dtype == np.float32
    # float32 on the way: within its precision, and unit length again.
    assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(row, vector))
    assert math.isclose(math.fsum(float(v) * float(v) for v in row), 1.0, rel_tol=1e-6)


def test_a_shared_vector_is_found_in_the_index_that_reads_it() -> None:
    vector = unit([0.0, 1.0, 2.0])
    assert vector is not None
    found = read_entry(shared_entry("p", "k", vector))
    assert found is not None
    index = SemanticIndex()
    index.add_shared(*found)
    match = index.nearest("p", vector, 0.99)
    assert match is not None and match.key == "k"


def _entry(partition: bytes, key: bytes, values: bytes) -> bytes:
    return struct.pack("<II", len(partition), len(key)) + partition + key + values


@pytest.mark.parametrize(
    "entry",
    [
        b"",
        b"\x01\x00\x00",
        _entry(b"p", b"k", b""),  # no values
        _entry(b"p", b"k", b"\x00\x00\x80"),  # not whole float32s
        struct.pack("<II", 50, 1) + b"p" + b"k" + struct.pack("<f", 1.0),  # lengths past the end
        _entry(b"\xff\xfe", b"k", struct.pack("<f", 1.0)),  # not UTF-8
    ],
)
def test_bytes_that_are_no_entry_are_passed_over(entry: bytes) -> None:
    assert read_entry(entry) is None


@pytest.mark.parametrize(
    "values",
    [
        struct.pack("<ff", 0.0, 0.0),
        struct.pack("<ff", float("nan"), 1.0),
        struct.pack("<ff", float("inf"), 1.0),
    ],
)
def test_values_that_are_no_direction_are_passed_over_by_the_index(values: bytes) -> None:
    found = read_entry(_entry(b"p", b"k", values))
    assert found is not None
    index = SemanticIndex()
    index.add_shared(*found)
    assert len(index) == 0
