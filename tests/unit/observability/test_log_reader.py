from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.observability.log_reader import (
    RecordFilter,
    UsageError,
    parse_span,
    parse_statuses,
    parse_time,
    read_records,
    status_matches,
)
from gateway.replay.command import select
from gateway.rotating_files import lock_path
from tests.rotation_race import rotation_at_first_open

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", NOW - 30),
        ("30m", NOW - 1800),
        ("1h", NOW - 3600),
        ("7d", NOW - 7 * 86400),
        ("2w", NOW - 14 * 86400),
        ("1.5h", NOW - 5400),
        (" 10M ", NOW - 600),
        ("1700000000", 1_700_000_000.0),
        ("1699999999.5", 1_699_999_999.5),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC).timestamp()),
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC).timestamp()),
        ("2024-05-01T12:30:00+02:00", datetime(2024, 5, 1, 10, 30, tzinfo=UTC).timestamp()),
        ("2024-05-01 12:30", datetime(2024, 5, 1, 12, 30, tzinfo=UTC).timestamp()),
    ],
)
def test_parse_time(text: str, expected: float) -> None:
    assert parse_time(text, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", ["", "yesterday", "1x", "-1h", "2024-13-01", "-5", "1e300", "nan", "inf"]
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="cannot read time"):
        parse_time(text, now=NOW)


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59.5Z"]
)
def test_iso_times_must_be_dates_in_utc(text: str) -> None:
    """In UTC these fall in year 0 or 10000: the dates the tools print would be a ValueError."""
    with pytest.raises(UsageError, match="in UTC it must fall from 0001-01-01"):
        parse_time(text, now=NOW)
    assert parse_time("0001-01-01T00:00:00Z") == datetime(1, 1, 1, tzinfo=UTC).timestamp()
    assert parse_time("9999-12-31T23:59:59Z") == 253_402_300_799


def test_ages_and_spans_stop_at_a_hundred_years() -> None:
    """Longer ones would put the dates the tools print before year 1 (a ValueError)."""
    assert parse_span("36500d") == 36500 * 86400
    assert parse_time("36500d", now=NOW) == NOW - 36500 * 86400
    for text in ("36501d", "100000000d", "9999999w"):
        with pytest.raises(UsageError, match="at most 36500d"):
            parse_span(text)
        with pytest.raises(UsageError, match="at most 36500d"):
            parse_time(text, now=NOW)


def test_statuses() -> None:
    patterns = parse_statuses("200, 5xx,429")
    assert all(status_matches(s, patterns) for s in (200, 500, 502, 429))
    assert not any(status_matches(s, patterns) for s in (201, 400, 499, None, 5000))
    for bad in ("", "abc", "600", "2x", "20"):
        with pytest.raises(UsageError):
            parse_statuses(bad)


def record(i: int, **extra: Any) -> dict[str, Any]:
    base = {
        "id": f"req_{i}",
        "ts": NOW + i,
        "model": "m",
        "key_id": "k",
        "status": 200,
        "error_type": None,
        "endpoint": "/v1/chat/completions",
        "request": {"model": "m", "messages": []},
        "response": None,
    }
    return base | extra


def write_log(path: Path, records: list[dict[str, Any]], garbage: bool = False) -> Path:
    lines = [json.dumps(r) for r in records]
    if garbage:
        lines[1:1] = ["{torn", "[1, 2]", ""]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_records_filters_and_counts_bad_lines(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "log.jsonl",
        [
            record(0),
            record(1, model="other"),
            record(2, key_id="k2"),
            record(3, status=502),
            record(4),
        ],
        garbage=True,
    )
    records, reader = read_records(log)
    assert [r["id"] for r in records] == ["req_0", "req_1", "req_2", "req_3", "req_4"]
    assert reader.bad_lines == 2 and reader.seen == 5
    only = RecordFilter(since=NOW + 1, until=NOW + 4, models=("m",), keys=("k",))
    assert [r["id"] for r in read_records(log, only)[0]] == ["req_3"]
    assert [r["id"] for r in read_records(log, RecordFilter(statuses=("5xx",)))[0]] == ["req_3"]
    with pytest.raises(UsageError, match="not found"):
        read_records(tmp_path / "missing.jsonl")


def test_select_keeps_replayable_successes_then_samples_and_limits(tmp_path: Path) -> None:
    records = [record(i) for i in range(100)]
    records += [
        record(100, request=None),
        record(101, endpoint="/v1/embeddings"),
        record(102, status=502),
    ]
    records += [record(103, error_type="stream_interrupted")]
    log = write_log(tmp_path / "log.jsonl", records)
    selection = select(log, RecordFilter(), sample=None, seed=0, limit=None)
    assert len(selection.records) == 100
    assert (selection.skipped_no_body, selection.skipped_endpoint, selection.matched) == (1, 1, 102)
    sampled = select(log, RecordFilter(), sample=0.25, seed=7, limit=None)
    assert len(sampled.records) == 25
    assert [r["ts"] for r in sampled.records] == sorted(
        r["ts"] for r in sampled.records
    )  # file order kept
    assert sampled.records == select(log, RecordFilter(), sample=0.25, seed=7, limit=None).records
    assert sampled.records != select(log, RecordFilter(), sample=0.25, seed=8, limit=None).records
    assert len(select(log, RecordFilter(), sample=0.25, seed=7, limit=10).records) == 10
    failed = select(log, RecordFilter(statuses=("5xx",)), sample=None, seed=0, limit=None)
    assert [r["id"] for r in failed.records] == ["req_102"]


@pytest.mark.parametrize(
    "field",
    [
        {"prompt_tokens": {"a": 1}},
        {"completion_tokens": "1"},
        {"status": True},
        {"status": "200"},
        {"ts": -5},
        {"ts": 1e300},
        {"ts": "2024-05-01"},
        {"latency_ms": [1]},
        {"cost_usd": "0.1"},
        {"model": 5},
        {"endpoint": None, "request": [1]},
        {"attempts": {"a": 1}},
        {"tags": ["a"]},
        {"prompt_version": "2"},
        {"stream": 1},
        # Counts bounded as the gateway bounds usage; other integers to the same size.
        {"prompt_tokens": 2**64 - 1},
        {"prompt_tokens": 2**53},
        {"completion_tokens": -1},
        {"completion_tokens": 1e300},
        {"status": 2**63},
        {"ttft_ms": 2**64 - 1},
        {"prompt_version": 2**53},
    ],
)
def test_records_whose_fields_are_not_the_gateways_types_are_skipped_and_counted(
    tmp_path: Path, field: dict[str, Any]
) -> None:
    """A stray edit or another program's line must not stop `stats` or `replay` (they read
    the fields as the gateway writes them): it counts as a line that does not parse."""
    log = write_log(tmp_path / "log.jsonl", [record(0), record(1, **field), record(2)])
    records, reader = read_records(log)
    assert [r["id"] for r in records] == ["req_0", "req_2"]
    assert reader.bad_lines == 1 and reader.seen == 2


def test_nulls_and_numbers_of_either_kind_are_the_gateways_types(tmp_path: Path) -> None:
    fields = {"latency_ms": 3, "cost_usd": 0, "ttft_ms": None, "ts": NOW, "prompt_tokens": None}
    fields |= {"completion_tokens": 12.0}  # a script's log: still a number to add
    log = write_log(tmp_path / "log.jsonl", [record(0, **fields), record(1, ts=0)])
    records, reader = read_records(log)
    assert len(records) == 2 and reader.bad_lines == 0


def test_a_byte_order_mark_at_the_start_is_no_bad_line(tmp_path: Path) -> None:
    """A log saved by an editor that adds a BOM lost its first record as unreadable."""
    log = write_log(tmp_path / "log.jsonl", [record(0), record(1)])
    log.write_bytes(b"\xef\xbb\xbf" + log.read_bytes())
    records, reader = read_records(log)
    assert [r["id"] for r in records] == ["req_0", "req_1"] and reader.bad_lines == 0


def test_a_rotation_between_the_logs_check_and_its_open_does_not_fail_the_read(
    tmp_path: Path,
) -> None:
    # `gateway stats` and `replay` looked at the log, then opened it: a worker rotating it in
    # between (renamed to .1, its next record not yet written) made the read fail with a
    # FileNotFoundError traceback. Opened under the rotation lock, the log is read whole.
    log = tmp_path / "requests.jsonl"
    log.write_text(json.dumps(record(0)) + "\n")
    lock_path(log).touch()
    with rotation_at_first_open(log, backups=1):
        records, _ = read_records(log)
    assert [r["id"] for r in records] == ["req_0"]
    assert log.with_name("requests.jsonl.1").exists()  # rotated, after the log was opened
