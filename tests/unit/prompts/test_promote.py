"""Promotion: the alias moves only on a passing gate, the file keeps its comments and gains the
evaluation, a forced promotion and a rollback are recorded as such."""

from __future__ import annotations

import argparse
import json
import os
import stat
import threading
import tomllib
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.observability.audit import AuditLog
from gateway.prompts import commands
from gateway.prompts.promote import PromotionError, gate_of

FILE = """\
# Support bot: owned by the support team.
[[versions]]
version = 1
messages = [{ role = "system", content = "v1 {{product}}" }]

[[versions]]
version = 2  # brief
messages = [{ role = "system", content = "v2 {{product}}" }]

[aliases]
production = 1  # live
canary = { version = 2, weight = 0.1 }
"""


def report(tmp_path: Path, passed: bool | None, candidate: int = 2) -> Path:
    data: dict[str, object] = {
        "prompt": {"id": "bot", "candidate": candidate},
        "summary": {"similarity_mean": 0.93, "error_rate": 0.0, "judge_mean": None},
    }
    if passed is not None:
        data["gate"] = {"expression": "similarity_mean>=0.9", "passed": passed, "details": []}
    path = tmp_path / f"report-{passed}-{candidate}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    directory = tmp_path / "prompts"
    directory.mkdir()
    (directory / "bot.toml").write_text(FILE)
    return directory


def promote(prompts: Path, *args: str) -> int:
    return main(["prompts", "--dir", str(prompts), "promote", "bot", *args])


def test_a_failing_or_missing_gate_changes_nothing(
    prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert promote(prompts, "2", "--report", str(report(tmp_path, False))) == 1
    assert "gate failed: similarity_mean>=0.9" in capsys.readouterr().err
    assert promote(prompts, "2", "--report", str(report(tmp_path, None))) == 1
    assert promote(prompts, "2") == 2  # neither --report nor --force
    assert (prompts / "bot.toml").read_text() == FILE
    trail = [
        json.loads(line) for line in (tmp_path / "logs" / "audit.jsonl").read_text().splitlines()
    ]
    assert [(e["action"], e["result"], e["passed"]) for e in trail] == [
        ("prompt_promote", "refused", False),
        ("prompt_promote", "refused", False),
    ]
    assert trail[0]["who"].startswith("cli:") and trail[0]["gate"] == "similarity_mean>=0.9"


def test_a_report_for_another_version_is_a_usage_error(prompts: Path, tmp_path: Path) -> None:
    assert promote(prompts, "2", "--report", str(report(tmp_path, True, candidate=3))) == 2
    with pytest.raises(PromotionError):
        gate_of({"prompt": {"id": "other", "candidate": 2}}, "bot", 2)


def test_a_model_replay_report_promotes_no_prompt_version(
    prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A `gateway replay --model M` report compared models: however its gate went, it
    # evaluated no version of this prompt.
    model_report = tmp_path / "model-report.json"
    model_report.write_text(
        json.dumps(
            {
                "model": "cheaper-model",
                "summary": {"error_rate": 0.0},
                "gate": {"expression": "error_rate==0", "passed": True, "details": []},
            }
        )
    )
    assert promote(prompts, "2", "--report", str(model_report)) == 2
    assert "evaluated no prompt version" in capsys.readouterr().err
    assert (prompts / "bot.toml").read_text() == FILE
    # A refused promotion, so the audit trail says so, and why.
    (line,) = (tmp_path / "logs" / "audit.jsonl").read_text().splitlines()
    entry = json.loads(line)
    assert (entry["action"], entry["result"], entry["version"]) == ("prompt_promote", "refused", 2)
    assert "evaluated no prompt version" in entry["problem"]
    with pytest.raises(PromotionError):
        gate_of({"gate": {"expression": "x", "passed": True}}, "bot", 2)


def test_a_report_on_other_content_of_the_version_is_a_usage_error(
    prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Version 2 is unused, so it may be edited after the replay judged it: the report then
    # vouches for text that is no longer the version's.
    stale = report(tmp_path, True)
    data = json.loads(stale.read_text())
    data["prompt"]["hash"] = "0123456789abcdef"
    stale.write_text(json.dumps(data))
    assert promote(prompts, "2", "--report", str(stale)) == 2
    assert "changed since the report evaluated it" in capsys.readouterr().err
    assert (prompts / "bot.toml").read_text() == FILE
    current = json.loads(main_show(prompts, capsys))["detail"][1]["hash"]
    data["prompt"]["hash"] = current
    stale.write_text(json.dumps(data))
    assert promote(prompts, "2", "--report", str(stale)) == 0


def main_show(prompts: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["prompts", "--dir", str(prompts), "show", "bot"]) == 0
    return capsys.readouterr().out


def test_a_report_that_is_not_a_json_object_is_a_usage_error(
    prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    assert promote(prompts, "2", "--report", str(listed)) == 2
    assert "is not a replay report" in capsys.readouterr().err
    assert (prompts / "bot.toml").read_text() == FILE


def test_a_passing_gate_moves_the_alias_keeping_comments(prompts: Path, tmp_path: Path) -> None:
    assert promote(prompts, "2", "--report", str(report(tmp_path, True))) == 0
    text = (prompts / "bot.toml").read_text()
    assert text.startswith("# Support bot: owned by the support team.\n")
    assert "production = 2  # live" in text and "version = 2  # brief" in text
    data = tomllib.loads(text)
    (evaluation,) = data["versions"][1]["evals"]
    assert evaluation["passed"] is True and evaluation["forced"] is False
    assert evaluation["previous"] == 1 and evaluation["rollback"] is False
    assert evaluation["scores"] == {"similarity_mean": 0.93, "error_rate": 0.0}
    assert evaluation["gate"] == "similarity_mean>=0.9"
    (line,) = (tmp_path / "logs" / "audit.jsonl").read_text().splitlines()
    entry = json.loads(line)
    assert (entry["result"], entry["target"], entry["version"], entry["previous"]) == (
        "ok",
        "bot",
        2,
        1,
    )
    assert entry["before"] != entry["after"] and entry["forced"] is False


def test_forced_rollback_is_recorded(prompts: Path, tmp_path: Path) -> None:
    assert promote(prompts, "2", "--report", str(report(tmp_path, True))) == 0
    assert promote(prompts, "1", "--force") == 0
    data = tomllib.loads((prompts / "bot.toml").read_text())
    assert data["aliases"]["production"] == 1
    (evaluation,) = data["versions"][0]["evals"]
    assert evaluation["forced"] is True and evaluation["rollback"] is True
    assert evaluation["previous"] == 2


def test_the_rewritten_file_keeps_its_permissions(prompts: Path) -> None:
    # The rewrite went through mkstemp's 0600: a gateway running as another user than the
    # operator could no longer read the file, so every reload after the promotion was refused.
    file = prompts / "bot.toml"
    file.chmod(0o644)
    assert promote(prompts, "2", "--force") == 0
    assert stat.S_IMODE(file.stat().st_mode) == 0o644
    assert "production = 2" in file.read_text()


def test_a_canary_keeps_its_weight(prompts: Path, tmp_path: Path) -> None:
    assert promote(prompts, "1", "--alias", "canary", "--force") == 0
    data = tomllib.loads((prompts / "bot.toml").read_text())
    assert data["aliases"]["canary"] == {"version": 1, "weight": 0.1}


def test_list_show_diff(prompts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompts", "--dir", str(prompts), "list"]) == 0
    assert "bot  versions [1, 2]" in capsys.readouterr().out
    assert main(["prompts", "--dir", str(prompts), "show", "bot"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["detail"][1]["variables"] == ["product"]
    assert main(["prompts", "--dir", str(prompts), "diff", "bot", "1", "2"]) == 0
    diff = capsys.readouterr().out
    assert "-v1 {{product}}" in diff and "+v2 {{product}}" in diff
    assert main(["prompts", "--dir", str(prompts), "diff", "bot", "1", "7"]) == 2


def test_a_report_that_is_no_regular_file_is_refused_at_once(
    prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO blocked the read forever (and /dev/zero filled memory)."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    codes: list[int] = []
    worker = threading.Thread(
        target=lambda: codes.append(promote(prompts, "2", "--report", str(fifo)))
    )
    worker.start()
    worker.join(5)
    if worker.is_alive():  # unblock the read before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
    assert codes == [2] and "is not a regular file" in capsys.readouterr().err
    assert promote(prompts, "2", "--report", str(tmp_path)) == 2
    assert "is not a regular file" in capsys.readouterr().err
    if os.geteuid() == 0:  # a copy of /dev/zero
        zero = tmp_path / "zero.json"
        os.mknod(zero, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
        assert promote(prompts, "2", "--report", str(zero)) == 2
        assert "is not a regular file" in capsys.readouterr().err


def test_a_report_is_read_up_to_a_size_cap(
    prompts: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = report(tmp_path, True)
    monkeypatch.setattr(commands, "MAX_REPORT_BYTES", path.stat().st_size - 1)
    assert promote(prompts, "2", "--report", str(path)) == 2
    assert "is larger than" in capsys.readouterr().err
    monkeypatch.setattr(commands, "MAX_REPORT_BYTES", path.stat().st_size)
    assert promote(prompts, "2", "--report", str(path)) == 0


def test_a_prompts_dir_that_cannot_be_read_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A symlink loop listed nothing and exited 0, as if the registry were empty."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert main(["prompts", "--dir", str(loop), "list"]) == 2
    assert "cannot read prompts_dir" in capsys.readouterr().err
    assert main(["prompts", "--dir", str(tmp_path / "missing"), "list"]) == 0  # none yet


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'a = "\xe9"\n', "1: file is not valid UTF-8"),
        (b"a = " + b"[" * 5000 + b"]" * 5000, "1: arrays or tables nested too deeply"),
    ],
)
def test_a_config_that_cannot_be_parsed_is_a_usage_error(
    tmp_path: Path, content: bytes, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """UnicodeDecodeError and RecursionError escaped as tracebacks."""
    config = tmp_path / "config.toml"
    config.write_bytes(content)
    assert main(["prompts", "--config", str(config), "list"]) == 2
    assert capsys.readouterr().err == f"error: {config}:{problem} (pass --dir or --config)\n"


def test_the_cli_rotates_the_trail_as_the_config_says(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[logging]\naudit_path = "a/t.jsonl"\naudit_max_bytes = 4096\n')
    args = argparse.Namespace(audit=None, dir=None, config=str(config))
    assert commands.audit_log(args) == AuditLog(tmp_path / "a" / "t.jsonl", 4096, 5)
    # Without a config it cannot know how the gateway keeps the trail: it never rotates it.
    args = argparse.Namespace(audit=str(tmp_path / "t.jsonl"), dir=None, config=None)
    assert commands.audit_log(args) == AuditLog(tmp_path / "t.jsonl")
