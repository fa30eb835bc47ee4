"""A semantic cache vector as the processes on one Redis share it: the bytes of one entry of the
state's shared vectors (`StateBackend.share_vector`), and back.

An entry is its partition's and its cache key's lengths (two little-endian 32-bit integers),
their UTF-8 text, then the vector's values as little-endian float32 (4 bytes each, as the
index holds them: 6 kB for 1,536 dimensions). An entry that does not read back (another
version's, a hand edit, values that are not finite) is passed over by `read_entry`.
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

from gateway.cache.semantic_index import Vector

_LENGTHS = struct.Struct("<II")


def shared_entry(partition: str, key: str, vector: Vector) -> bytes:
    """The entry that stands for `key`'s `vector` (unit length) in `partition`."""
    names = partition.encode(), key.encode()
    values = np.asarray(vector, dtype="<f4").tobytes()
    return _LENGTHS.pack(len(names[0]), len(names[1])) + names[0] + names[1] + values


def read_entry(entry: bytes) -> tuple[str, str, npt.NDArray[np.float32]] | None:
    """(partition, key, vector) of an entry `shared_entry` made, the vector as float32 values
    of unit length (as the index keeps it: about 5 us for 1,536 dimensions, where a tuple of
    floats took 45 us to make and as long again to add); None for any other bytes."""
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
    array = np.frombuffer(values, dtype="<f4").astype(np.float32)  # little-endian to native
    norm = float(np.linalg.norm(array.astype(np.float64)))
    if not norm or not np.isfinite(norm):  # zeros, or a value not finite
        return None
    return partition, key, array / np.float32(norm)
