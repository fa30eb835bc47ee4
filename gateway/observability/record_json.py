"""A request record as one JSON line, always: a field that cannot be serialised is replaced.

orjson refuses integers beyond 64 bits, nesting deeper than 254 levels and cycles. A record is
never dropped for that: each top-level field that fails is written as null, and the record
gains `record_error` naming them (docs/request-log.md).
"""

from __future__ import annotations

from typing import Any

import orjson


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


def record_line(record: dict[str, Any]) -> tuple[bytes, bool]:
    """The record's JSON line, and whether fields had to be replaced to write it."""
    try:
        return _dumps(record) + b"\n", False
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        pass
    repaired: dict[str, Any] = {}
    replaced: list[str] = []
    for name, value in record.items():
        try:
            _dumps(value)
        except TypeError:
            replaced.append(str(name))
            value = None
        repaired[str(name)] = value
    repaired["record_error"] = "fields not serialisable, written as null: " + ", ".join(replaced)
    return _dumps(repaired) + b"\n", True
