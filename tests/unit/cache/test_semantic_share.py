"""The bytes of a shared semantic cache vector (`gateway.cache.semantic_share`): what one process
writes, another reads back; any other bytes are passed over."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from gateway.cache.semantic_index import unit
from gateway.cache.semantic_share import read_entry, shared_entry


def test_an_entry_reads_back_as_it_was_shared() -> None:
    vector = unit([3.0, -4.0, 0.5, 12.0])
    assert vector is not None
    partition, key = "team-é:/v1/chat#semantic:embed:ab12", "team-é:/v1/chat:ff00"
    found = read_entry(shared_entry(partition, key, vector))
    assert found is not None
    assert found[:2] == (partition, key)
    # float32 on the way: within its precision, and unit length again.
    assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(found[2], vector))
    assert found[2].dtype == np.float32
    assert math.isclose(math.fsum(float(v) * float(v) for v in found[2]), 1.0, rel_tol=1e-6)


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
        _entry(b"p", b"k", struct.pack("<ff", 0.0, 0.0)),  # zeros
        _entry(b"p", b"k", struct.pack("<ff", float("nan"), 1.0)),
        _entry(b"p", b"k", struct.pack("<ff", float("inf"), 1.0)),
        _entry(b"\xff\xfe", b"k", struct.pack("<f", 1.0)),  # not UTF-8
    ],
)
def test_bytes_that_are_no_entry_are_passed_over(entry: bytes) -> None:
    assert read_entry(entry) is None
