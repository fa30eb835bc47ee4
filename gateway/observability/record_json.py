"""A request record as one JSON line, always: a field that cannot be serialised is replaced.

orjson refuses integers beyond 64 bits, nesting deeper than 254 levels and cycles. A record is
never dropped for that: each top-level field that fails is written as null, and the record
gains `record_error` naming them (docs/request-log.md). The tools' documents (`stats --json`,
the replay report) are written whole by `document_json`.
"""

from __future__ import annotations

import json
import math
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


def document_json(document: dict[str, Any]) -> bytes:
    """`document` as indented JSON. A sum of token counts can pass the 64 bits orjson takes
    (thousands of records near 2**53 each); such a document is written by the standard library,
    every integer in full, a non-finite float as null (as orjson writes it)."""
    try:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2)
    except TypeError:
        return json.dumps(_finite(document), indent=2, ensure_ascii=False).encode()


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
