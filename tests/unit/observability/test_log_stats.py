from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.observability.log_reader import UsageError
from gateway.observability.log_stats import aggregate, parse_by, render_table
from gateway.observability.percentile import percentile
from gateway.rotating_files import RotatingFile, backup_path


def rec(
    model: str | None,
    key: str,
    team: str | None,
    status: int,
    cost: float,
    latency: float,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "ts": 1_700_000_000.0,
        "model": model,
        "key_id": key,
        "team": team,
        "status": status,
        "error_type": None,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": cost,
        "latency_ms": latency,
        "ttft_ms": None,
    } | extra


RECORDS = [
    rec("gpt", "a", "t1", 200, 0.01, 100),
    rec("gpt", "a", "t1", 200, 0.02, 200),
    rec("gpt", "b", "t2", 502, 0.0, 300),
    rec("claude", "b", "t2", 200, 0.5, 50, ttft_ms=20),
    rec("claude", "b", "t2", 200, 0.0, 60, error_type="stream_interrupted"),
    rec(None, "c", None, 401, 0.0, 1),
]


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 99) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)
    assert percentile([3.0, 1.0, 2.0], 100) == 3.0 and percentile([3.0, 1.0, 2.0], 0) == 1.0


def test_aggregate_by_model() -> None:
    rows, total = aggregate(RECORDS, ["model"])
    assert [r["model"] for r in rows] == ["claude", "gpt", "(none)"]  # biggest spend first
    gpt = rows[1]
    assert (gpt["requests"], gpt["errors"], gpt["tokens"]) == (3, 1, 45)
    assert gpt["spend_usd"] == pytest.approx(0.03) and gpt["error_rate"] == pytest.approx(1 / 3)
    assert (gpt["latency_p50_ms"], gpt["latency_p95_ms"], gpt["latency_p99_ms"]) == (
        200.0,
        290.0,
        298.0,
    )
    claude = rows[0]
    assert claude["errors"] == 1 and claude["ttft_p50_ms"] == 20.0  # a broken stream is an error
    assert (
        total["requests"] == 6
        and total["errors"] == 3
        and total["spend_usd"] == pytest.approx(0.53)
    )


def test_aggregate_by_several_fields() -> None:
    rows, _ = aggregate(RECORDS, ["team", "key"])
    assert {(r["team"], r["key"]): r["requests"] for r in rows} == {
        ("t1", "a"): 2,
        ("t2", "b"): 3,
        ("(none)", "c"): 1,
    }


def test_requests_that_presented_a_secret_being_rotated_out_are_counted_per_key() -> None:
    records = [*RECORDS, rec("gpt", "a", "t1", 200, 0.01, 90, key_secret="previous")]
    rows, _ = aggregate(records, list(parse_by("key,key_secret")))
    assert {(r["key"], r["key_secret"]): r["requests"] for r in rows} == {
        ("a", "(none)"): 2,
        ("a", "previous"): 1,
        ("b", "(none)"): 3,
        ("c", "(none)"): 1,
    }


def test_parse_by() -> None:
    assert parse_by("model, key,team") == ("model", "key", "team")
    with pytest.raises(UsageError, match="--by"):
        parse_by("model,colour")


def test_table_is_aligned() -> None:
    rows, total = aggregate(RECORDS, ["model", "team"])
    lines = render_table(rows, total, ["model", "team"]).splitlines()
    assert lines[0].split()[:4] == ["model", "team", "requests", "errors"]
    assert lines[-1].startswith("TOTAL")
    # Numeric columns are right-aligned: every row ends at the same column as the header.
    widths = {len(line) for line in lines if not line.startswith("-")}
    assert len(widths) == 1


def test_group_values_cannot_write_control_characters_to_the_terminal() -> None:
    # Tags and users come from request bodies: a newline would break the table, an escape
    # sequence would drive the operator's terminal.
    hostile = "x\n\x1b]0;owned\x07\x1b[2J"
    records = [rec("gpt", "a", "t1", 200, 0.01, 100, tags={"feature": hostile})]
    rows, total = aggregate(records, ["tag:feature"])
    text = render_table(rows, total, ["tag:feature"])
    assert "\x1b" not in text and "\x07" not in text and len(text.splitlines()) == 5
    assert "x\\n\\x1b]0;owned\\x07\\x1b[2J" in text


def test_cli_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "log.jsonl"
    edited = json.dumps(RECORDS[0] | {"prompt_tokens": {"n": 1}, "ts": -1e12})
    log.write_text("".join(json.dumps(r) + "\n" for r in RECORDS) + edited + "\n{torn\n")
    assert main(["stats", str(log), "--by", "team", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["total"]["requests"] == 6 and document["bad_lines"] == 2
    assert main(["stats", str(log), "--drift", "--baseline", "36500d", "--window", "1d"]) in (0, 1)
    assert main(["stats", str(log), "--drift", "--baseline", "100000000d"]) == 2
    assert "at most 36500d" in capsys.readouterr().err
    assert main(["stats", str(log), "--since", "2020-01-01", "--until", "2020-01-02"]) == 0
    assert capsys.readouterr().out.startswith("0 requests")
    assert main(["stats", str(log), "--since", "soon"]) == 2
    assert main(["stats", str(tmp_path / "nope.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err


def test_stats_json_writes_sums_past_64_bits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each count is below 2**53, but 2,050 of them add up past what orjson writes."""
    biggest = 2**53 - 1
    line = json.dumps(rec("gpt", "a", "t1", 200, float("1e308"), 1, prompt_tokens=biggest))
    log = tmp_path / "log.jsonl"
    log.write_text((line + "\n") * 2050)
    assert main(["stats", str(log), "--json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert total["prompt_tokens"] == 2050 * biggest and total["tokens"] == 2050 * (biggest + 5)
    assert total["spend_usd"] is None  # an infinite sum, written as orjson writes it


@pytest.mark.parametrize(
    "flags",
    [
        ["--since", "0001-01-01T00:00:00+14:00"],
        ["--until", "9999-12-31T23:59:59-14:00"],
        ["--drift", "--until", "0001-01-02T00:00:00Z"],  # its baseline starts in year 0
    ],
)
def test_times_outside_the_years_a_date_shows_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(RECORDS[0]) + "\n")
    assert main(["stats", str(log), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.splitlines()) == 1


def _rotated_log(tmp_path: Path, start: float = 0.0) -> Path:
    """A log rotated through `RotatingFile` (one record a file, 3 backups kept): records at
    ts `start` + 1..4 (costing $1..$4), oldest first, in `.3` .. the log."""
    log = tmp_path / "log.jsonl"
    appender = RotatingFile(log, max_bytes=1, backups=3)
    for n in (1.0, 2.0, 3.0, 4.0):
        record = rec("gpt", "a", "t1", 200, n, n * 10, ts=start + n)
        appender.append(json.dumps(record).encode() + b"\n")
    appender.close()
    assert [p.name for p in sorted(tmp_path.iterdir())] == [
        "log.jsonl",
        "log.jsonl.1",
        "log.jsonl.2",
        "log.jsonl.3",
        "log.jsonl.lock",
    ]
    return log


def test_stats_reads_the_rotated_files_oldest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _rotated_log(tmp_path)
    assert main(["stats", str(log), "--json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert total["requests"] == 4 and total["spend_usd"] == 10.0
    assert main(["stats", str(log), "--since", "1970-01-01T00:00:02Z", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["requests"] == 3
    log.unlink()  # rotated away, not yet written again: the rotated files still count
    assert main(["stats", str(log), "--by", "model"]) == 0
    assert capsys.readouterr().out.startswith("3 requests in")
    for missing in (["--since", "1h"], ["--drift"], []):
        assert main(["stats", str(tmp_path / "nope.jsonl"), *missing]) == 2
        assert "not found" in capsys.readouterr().err


def test_stats_since_leaves_files_modified_before_it_unopened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _rotated_log(tmp_path, start=time.time())
    hour_ago = time.time() - 3600
    for index in (2, 3):  # their records' ts says otherwise: only the file time is looked at
        os.utime(backup_path(log, index), (hour_ago, hour_ago))
    assert main(["stats", str(log), "--since", "30m", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["spend_usd"] == 3 + 4
    assert main(["stats", str(log), "--json"]) == 0  # no --since: every file
    assert json.loads(capsys.readouterr().out)["total"]["spend_usd"] == 1 + 2 + 3 + 4


def test_drift_reads_the_rotated_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _rotated_log(tmp_path)
    log.unlink()  # the window's end is then the last record of `.1`
    assert main(["stats", str(log), "--drift", "--baseline", "1s", "--window", "1s"]) == 1
    output = capsys.readouterr().out
    assert "window 1970-01-01T00:00:02+00:00 .. 1970-01-01T00:00:03" in output
    # the window's record ($3, in `.1`) costs 50% more than the baseline's ($2, in `.2`)
    assert "gpt (none): DRIFT cost_per_request" in output
