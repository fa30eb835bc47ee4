"""A semantic cache vector as the processes on one Redis share it: the bytes of one entry of the
state's shared vectors (`StateBackend.share_vector`), and back.

An entry is its partition's and its cache key's lengths (two little-endian 32-bit integers),
their UTF-8 text, then the vector's values as little-endian float32 (4 bytes each, as the
index holds them: 6 kB for 1,536 dimensions). An entry that does not read back (another
version's, a hand edit) is passed over by `read_entry`; values that are zeros or not finite, by
the index (`SemanticIndex.add_shared`).
"""

from __future__ import annotations

import struct
import sys
from array import array

from gateway.cache.semantic_vector import Vector

_LENGTHS = struct.Struct("<II")


def shared_entry(partition: str, key: str, vector: Vector) -> bytes:
    """The entry that stands for `key`'s `vector` (unit length) in `partition`."""
    names = partition.encode(), key.encode()
    values = array("f", vector)  # C floats: 32-bit IEEE 754 wherever CPython runs
    if sys.byteorder == "big":
        values.byteswap()
    return _LENGTHS.pack(len(names[0]), len(names[1])) + names[0] + names[1] + values.tobytes()


def read_entry(entry: bytes) -> tuple[str, str, bytes] | None:
    """(partition, key, the vector's little-endian float32 values) of an entry `shared_entry`
    made; None for any other bytes."""
    if len(entry) < _LENGTHS.size:
        return None
    partition_size, key_size = _LENGTHS.unpack_from(entry)
    start = _LENGTHS.size
    values = entry[start + partition_size + key_size :]
    if len(entry) < start + partition_size + key_size or not values or len(values) % 4:
        return None
    try:
        partition = entry[start : start + partition_size].decode()
        key = entry[start + partition_size : start + partition_size + key_size].decode()
    except UnicodeDecodeError:
        return None
    return partition, key, values
