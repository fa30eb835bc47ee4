"""Choosing the records to replay from a log: what is kept in memory while the log is read."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

from gateway.observability.log_reader import RecordFilter
from gateway.replay.command import select

BODY_CHARS = 20_000


def _record(i: int, **extra: Any) -> dict[str, Any]:
    text = f"question {i} " + "x" * BODY_CHARS
    return {
        "id": f"req_{i}",
        "ts": 1_700_000_000.0 + i,
        "model": "old",
        "endpoint": "/v1/chat/completions",
        "status": 200,
        "request": {"model": "old", "messages": [{"role": "user", "content": text}]},
        "response": {"choices": [{"message": {"role": "assistant", "content": text}}]},
    } | extra


def _log(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    log = tmp_path / "requests.jsonl"
    log.write_bytes(b"\xef\xbb\xbf" + b"".join(json.dumps(r).encode() + b"\n" for r in records))
    return log


def test_a_limited_replay_of_a_big_log_keeps_only_the_records_it_replays(tmp_path: Path) -> None:
    """Every matching record, bodies and all, was held until sampling and `--limit` chose a
    few: a log of gigabytes took gigabytes of memory to replay 5 records of it."""
    log = _log(tmp_path, [_record(i) for i in range(1000)])  # ~80 MB of record dicts read whole
    tracemalloc.start()
    try:
        selection = select(log, RecordFilter(), sample=0.5, seed=1, limit=3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(selection.records) == 3 and selection.read == 1000
    assert peak < 2_000_000, peak


def test_selection_counts_and_order_are_those_of_the_log(tmp_path: Path) -> None:
    records = [
        _record(0),
        _record(1, status=429, error_type="rate_limit_exceeded"),
        _record(2, endpoint="/v1/embeddings"),
        {k: v for k, v in _record(3).items() if k != "request"},
        _record(4),
        _record(5),
    ]
    log = _log(tmp_path, records)
    with log.open("ab") as handle:
        handle.write(b'{"id": "req_torn", "ts": 1')  # the last line of a log being written
    selection = select(log, RecordFilter(), sample=None, seed=0, limit=None)
    assert [r["id"] for r in selection.records] == ["req_0", "req_4", "req_5"]
    assert selection.records[0] == records[0]  # the first line, after its byte-order mark
    assert (selection.read, selection.bad_lines, selection.matched) == (6, 1, 5)
    assert (selection.skipped_no_body, selection.skipped_endpoint) == (1, 1)
    sampled = select(log, RecordFilter(), sample=0.7, seed=3, limit=None)
    assert [r["id"] for r in sampled.records] == ["req_0", "req_5"]


def test_the_rotated_files_are_read_before_the_log_oldest_first(tmp_path: Path) -> None:
    """Only the file given was read: right after a rotation a replay had almost nothing."""
    log = _log(tmp_path, [_record(4), _record(5)])
    for index, numbers in ((2, (0, 1)), (1, (2, 3))):
        rotated = log.with_name(f"{log.name}.{index}")
        rotated.write_bytes(b"".join(json.dumps(_record(i)).encode() + b"\n" for i in numbers))
    selection = select(log, RecordFilter(), sample=None, seed=0, limit=None)
    assert [r["id"] for r in selection.records] == [f"req_{i}" for i in range(6)]
    assert selection.read == 6
    sampled = select(log, RecordFilter(), sample=0.5, seed=2, limit=2)
    ids = [r["id"] for r in sampled.records]
    assert len(ids) == 2 and ids == sorted(ids)  # in log order, across the files
    # A file last modified before --since is left unopened (its records are older).
    old = log.with_name(f"{log.name}.2")
    os.utime(old, (1_600_000_000, 1_600_000_000))
    recent = select(log, RecordFilter(since=1_700_000_000.0), sample=None, seed=0, limit=None)
    assert [r["id"] for r in recent.records] == [f"req_{i}" for i in range(2, 6)]
    assert recent.read == 4
