"""A record is always written: unserialisable fields are replaced and named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from gateway.observability.record_json import record_line
from gateway.observability.recorder import JsonlSink


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_a_serialisable_record_is_one_line_as_it_is() -> None:
    line, repaired = record_line({"id": "r", "prompt_tokens": 3})
    assert (orjson.loads(line), repaired) == ({"id": "r", "prompt_tokens": 3}, False)
    assert line.endswith(b"\n") and line.count(b"\n") == 1


def test_fields_that_cannot_be_serialised_are_written_as_null_and_named() -> None:
    record = {"id": "r", "prompt_tokens": 10**30, "request": _deep(300), "status": 200}
    line, repaired = record_line(record)
    written = orjson.loads(line)
    assert repaired
    assert written["id"] == "r" and written["status"] == 200
    assert written["prompt_tokens"] is None and written["request"] is None
    assert "prompt_tokens" in written["record_error"] and "request" in written["record_error"]


def test_the_sink_writes_the_repaired_record_and_counts_it(tmp_path: Path) -> None:
    counted: list[int] = []
    sink = JsonlSink(tmp_path / "r.jsonl", on_record_error=lambda: counted.append(1))
    sink.write({"id": "a", "cost_usd": 10**20})
    sink.write({"id": "b"})
    sink.close()
    lines = [orjson.loads(line) for line in (tmp_path / "r.jsonl").read_bytes().splitlines()]
    assert [r["id"] for r in lines] == ["a", "b"]
    assert lines[0]["cost_usd"] is None and "record_error" in lines[0]
    assert counted == [1]
