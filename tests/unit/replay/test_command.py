"""`gateway replay` end to end in one process: flags, usage errors, the in-process gateway."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main

CONFIG = """
[logging]
path = "logs/requests.jsonl"

[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "echo"
[[models.deployments]]
provider = "mock"
model = "echo"
input_cost_per_1m = 1.0
output_cost_per_1m = 2.0
"""


def record(i: int, text: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"req_{i}",
        "ts": 1_700_000_000.0 + i,
        "model": "old",
        "key_id": "k",
        "deployment": "mock/old",
        "endpoint": "/v1/chat/completions",
        "stream": False,
        "status": 200,
        "error_type": None,
        "latency_ms": 5.0,
        "prompt_tokens": 9,
        "completion_tokens": 2,
        "cost_usd": 0.0,
        "request": {"model": "old", "messages": [{"role": "user", "content": text}]},
        "response": {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]
        },
    } | extra


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG)
    records = [
        record(i, f"question {i}", f"question {i}" if i % 2 else "something else") for i in range(6)
    ]
    records.append(record(6, "no body", "x", request=None))
    records.append(record(7, "edited by hand", "x", prompt_tokens={"n": 9}))  # not the gateway's
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GATEWAY_API_KEY", raising=False)
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    return tmp_path


def test_in_process_replay_writes_reports_and_gates(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "replay",
            "log.jsonl",
            "--model",
            "echo",
            "--config",
            "config.toml",
            "--report",
            "out/r.json",
            "--concurrency",
            "2",
            "--gate",
            "exact_match_rate >= 0.5 and cost_ratio <= 1",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    assert "skipped 1 record(s) without a request body" in captured.err
    assert "cost_ratio<=1: UNKNOWN" in captured.out  # logged cost 0, new cost > 0: no ratio
    report = json.loads((workdir / "out" / "r.json").read_text())
    assert report["bad_lines"] == 1  # the hand-edited record: skipped and counted
    summary = report["summary"]
    assert (
        summary["count"] == 6
        and summary["exact_match_rate"] == 0.5
        and summary["skipped_no_body"] == 1
    )
    # The in-process gateway's own record gives tokens and cost: 9 prompt + n completion tokens
    # at 1/2 USD per 1M.
    row = report["rows"][1]
    assert row["exact_match"] and row["deployment_new"] == "mock/echo"
    assert row["cost_usd_new"] == pytest.approx(
        (row["prompt_tokens_new"] + 2 * row["completion_tokens_new"]) / 1e6
    )
    assert report["gate"]["passed"] is False and report["target"].startswith("in-process gateway")
    assert (workdir / "out" / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert not (workdir / "logs").exists(), (
        "an in-process replay must not write the config's request log"
    )

    assert (
        main(
            [
                "replay",
                "log.jsonl",
                "--model",
                "echo",
                "--config",
                "config.toml",
                "--report",
                "out/r.json",
                "--limit",
                "2",
                "--gate",
                "exact_match_rate >= 0.5",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "missing.jsonl", "--model", "echo", "--config", "config.toml"], "not found"),
        (
            ["replay", "log.jsonl", "--model", "echo", "--config", "nope.toml"],
            "config file nope.toml not found",
        ),
        (["replay", "log.jsonl", "--model", "echo"], "config.example.toml not found"),
        (
            ["replay", "log.jsonl", "--model", "echo", "--gate", "similarity >= 1"],
            "did you mean similarity_mean",
        ),
        (
            ["replay", "log.jsonl", "--model", "echo", "--gate", "import os"],
            "unknown name 'import'",
        ),
        (["replay", "log.jsonl", "--model", "echo", "--sample", "0"], "--sample"),
        (["replay", "log.jsonl", "--model", "echo", "--concurrency", "0"], "--concurrency"),
        (["replay", "log.jsonl", "--model", "echo", "--limit", "0"], "--limit"),
        # Integers the report echoes: a 2**64 reached orjson after every request was sent.
        (["replay", "log.jsonl", "--model", "echo", "--concurrency", str(2**64)], "--concurrency"),
        (["replay", "log.jsonl", "--model", "echo", "--limit", str(2**64)], "--limit"),
        (["replay", "log.jsonl", "--model", "echo", "--seed", str(2**64)], "--seed"),
        (["replay", "log.jsonl", "--model", "echo", "--timeout", "nan"], "--timeout"),
        (["replay", "log.jsonl", "--model", "echo", "--timeout", "inf"], "--timeout"),
        (["replay", "log.jsonl", "--model", "echo", "--timeout", "0"], "--timeout"),
        (["replay", "log.jsonl", "--model", "echo", "--timeout", "-1"], "--timeout"),
        (
            ["replay", "log.jsonl", "--prompt", "p", "--candidate", str(2**64)],
            "--candidate",
        ),
        (["replay", "log.jsonl", "--model", "echo", "--since", "later"], "cannot read time"),
        (["replay", "log.jsonl", "--model", "echo", "--status", "ok"], "cannot read status"),
        (
            ["replay", "log.jsonl", "--model", "echo", "--base-url", "http://127.0.0.1:9"],
            "needs a gateway key",
        ),
        (
            [
                "replay",
                "log.jsonl",
                "--model",
                "echo",
                "--config",
                "config.toml",
                "--filter-model",
                "zzz",
            ],
            "nothing to replay",
        ),
        (
            ["replay", "log.jsonl", "--model", "gpt-9", "--config", "config.toml"],
            "--model 'gpt-9' is not a model",
        ),
        (
            [
                "replay",
                "log.jsonl",
                "--model",
                "echo",
                "--config",
                "config.toml",
                "--judge-model",
                "j",
            ],
            "--judge-model 'j'",
        ),
    ],
)
def test_usage_errors_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_missing_model_is_a_usage_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "log.jsonl"]) == 2
    assert "--model is required (or --prompt ID --candidate VERSION)" in capsys.readouterr().err


def test_prompt_and_candidate_go_together(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "log.jsonl", "--prompt", "support-bot"]) == 2
    assert "--prompt and --candidate go together" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("", "names no file"),
        (".", "names no file"),
        ("adir", "it is a directory"),
        ("adir/", "names no file"),
        ("config.toml/r.json", "Not a directory"),
        ("pipe.json", "it is not a regular file"),
        ("pipe2.json", "pipe2.html: it is not a regular file"),  # the HTML's path
    ],
)
def test_report_path_is_checked_before_any_request(
    workdir: Path, capsys: pytest.CaptureFixture[str], report: str, message: str
) -> None:
    """The replay ran every request, then failed to write (a traceback); a FIFO at the path
    was replaced by a regular file."""
    (workdir / "adir").mkdir()
    os.mkfifo(workdir / "pipe.json")
    os.mkfifo(workdir / "pipe2.html")
    args = ["replay", "log.jsonl", "--model", "echo", "--config", "config.toml"]
    assert main([*args, "--report", report]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.splitlines()) == 1
    assert "replay [" not in captured.err and not captured.out  # nothing was sent
    assert stat.S_ISFIFO((workdir / "pipe.json").stat().st_mode)
    assert stat.S_ISFIFO((workdir / "pipe2.html").stat().st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
def test_report_path_on_a_device_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As root, `--report /dev/null` replaced /dev/null with a regular file (a copy here)."""
    node = workdir / "null.json"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    args = ["replay", "log.jsonl", "--model", "echo", "--config", "config.toml"]
    assert main([*args, "--report", str(node)]) == 2
    assert "it is not a regular file" in capsys.readouterr().err
    assert stat.S_ISCHR(node.stat().st_mode)


@pytest.mark.parametrize(
    ("report", "html"),
    [("out/report", "out/report.html"), ("r.html", "r.html.html"), ("R.HTML", "R.HTML.html")],
)
def test_the_html_report_never_overwrites_the_json_one(
    workdir: Path, report: str, html: str
) -> None:
    """`--report r.html` wrote the JSON, then the HTML over it."""
    args = ["replay", "log.jsonl", "--model", "echo", "--config", "config.toml", "--limit", "1"]
    assert main([*args, "--report", report]) == 0
    assert json.loads((workdir / report).read_text())["summary"]["count"] == 1
    assert (workdir / html).read_text().startswith("<!DOCTYPE html>")


def test_a_base_url_with_credentials_is_refused_and_never_printed(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """httpx sent `user:password@` as Basic auth in place of the gateway key (every request a
    401), and the summary and both reports printed the password as the target."""
    url = "http://admin:hunter2secret@127.0.0.1:9/v1"
    args = ["replay", "log.jsonl", "--model", "echo", "--base-url", url, "--key", "sk-x"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert "--base-url must not carry credentials" in err
    assert "hunter2secret" not in out + err
    assert not list(workdir.glob("report*"))
