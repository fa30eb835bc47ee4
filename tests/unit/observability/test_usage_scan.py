"""`/admin/usage`'s scan of the request log: its totals count as `gateway stats` does."""

from __future__ import annotations

from pathlib import Path

import orjson

from gateway.http.admin import usage_query
from gateway.observability.usage_scan import scan_usage
from gateway.rotating_files import lock_path
from tests.rotation_race import rotation_at_first_open


def test_the_totals_count_a_stream_broken_after_its_start_as_an_error(tmp_path: Path) -> None:
    # Status 200 with an error_type: the stream broke after its first byte. The groups (as
    # `gateway stats`) counted it as an error and the totals of the same answer did not.
    base = {"ts": 1.0, "key_id": "k", "team": "t", "model": "m", "cost_usd": 0.25}
    records = [
        {**base, "id": "a", "status": 200, "error_type": None},
        {**base, "id": "b", "status": 200, "error_type": "stream_interrupted"},
        {**base, "id": "c", "status": 429, "error_type": "rate_limited", "cost_usd": 0.0},
    ]
    log = tmp_path / "requests.jsonl"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    result = scan_usage(usage_query(log, 0, 0.0, None, None, "model"))
    (group,) = result["groups"]
    assert group["errors"] == 2
    assert result["errors"] == group["errors"]
    assert result["cost_usd"] == group["spend_usd"] == 0.5


def _log(path: Path, *ids: str) -> None:
    base = {"ts": 1.0, "key_id": "k", "team": "t", "model": "m", "status": 200, "cost_usd": 0.25}
    path.write_bytes(b"".join(orjson.dumps({**base, "id": i}) + b"\n" for i in ids))


def test_the_kept_rotated_files_are_counted_too(tmp_path: Path) -> None:
    # Only the current file was read: each rotation took the day's usage back to nearly 0.
    log = tmp_path / "requests.jsonl"
    _log(log.with_name("requests.jsonl.2"), "a")
    _log(log.with_name("requests.jsonl.1"), "b", "c")
    _log(log, "d")
    assert scan_usage(usage_query(log, 2, 0.0, None, None, None))["requests"] == 4
    assert scan_usage(usage_query(log, 1, 0.0, None, None, None))["requests"] == 3


def test_a_rotation_while_the_scan_opens_the_files_loses_and_repeats_none(tmp_path: Path) -> None:
    # Unlocked, the log could be renamed between its check and its open: the scan failed.
    log = tmp_path / "requests.jsonl"
    _log(log.with_name("requests.jsonl.1"), "a")
    _log(log, "b")
    lock_path(log).touch()
    with rotation_at_first_open(log, backups=2):
        result = scan_usage(usage_query(log, 2, 0.0, None, None, None))
    assert result["requests"] == 2
    assert log.with_name("requests.jsonl.2").exists()  # rotated, after the files were opened


def test_a_log_not_written_yet_counts_nothing(tmp_path: Path) -> None:
    assert (
        scan_usage(usage_query(tmp_path / "none.jsonl", 5, 1.0, None, None, None))["requests"] == 0
    )
