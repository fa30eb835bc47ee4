"""`gateway stats --drift` on synthetic logs: output tokens that double on day 8 are flagged;
an unchanged log is quiet; cost per session and finish reasons are compared too."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.observability.drift import category_psi, psi

DAY = 86400.0
START = 1_767_225_600.0  # 2026-01-01


def synthetic_log(path: Path, change: dict[str, Any] | None = None, days: int = 8) -> Path:
    """`days` days of 200 requests; from the last day on, `change` (field -> factor or value)."""
    rng = random.Random(7)
    lines = []
    for day in range(days):
        for i in range(200):
            completion = rng.randint(80, 160)
            record: dict[str, Any] = {
                "ts": START + day * DAY + i * 400,
                "model": "gpt-mock",
                "status": 200,
                "prompt_tokens": rng.randint(40, 60),
                "completion_tokens": completion,
                "latency_ms": rng.uniform(200, 400),
                "ttft_ms": None,
                "cost_usd": completion * 2e-6,
                "finish_reason": "stop" if rng.random() < 0.9 else "length",
                "session_id": f"s{day}-{i // 4}",
            }
            if change and day == days - 1:
                for field, value in change.items():
                    record[field] = record[field] * value if isinstance(value, float) else value
            lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    until = str(START + 8 * DAY)
    code = main(
        ["stats", str(path), "--drift", "--baseline", "7d", "--window", "1d", "--json"]
        + ["--until", until]
    )
    return code, json.loads(capsys.readouterr().out)


def test_doubled_output_tokens_on_day_8_are_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = synthetic_log(tmp_path / "log.jsonl", {"completion_tokens": 2.0, "cost_usd": 2.0})
    code, report = run(log, capsys)
    (group,) = report["groups"]
    assert code == 1 and report["flagged"] == 1
    assert group["psi_output_tokens"] > 0.2
    assert group["psi_prompt_tokens"] < 0.2 and group["psi_latency_ms"] < 0.2
    assert "psi_output_tokens" in group["flags"] and "cost_per_request" in group["flags"]
    assert group["cost_per_session"]["change"] == pytest.approx(1.0, abs=0.15)
    assert group["baseline_requests"] == 1400 and group["window_requests"] == 200


def test_an_unchanged_log_is_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run(synthetic_log(tmp_path / "log.jsonl"), capsys)
    (group,) = report["groups"]
    assert code == 0 and group["flags"] == []
    assert all(group[f"psi_{n}"] < 0.1 for n in ("prompt_tokens", "output_tokens", "latency_ms"))
    assert group["psi_ttft_ms"] is None  # no streams: too few values to compare


def test_finish_reasons_and_refusals_shift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = synthetic_log(tmp_path / "log.jsonl", {"finish_reason": "content_filter"})
    code, report = run(log, capsys)
    (group,) = report["groups"]
    assert code == 1 and "psi_finish_reason" in group["flags"]
    assert group["refusal_rate"]["window"] == 1.0 and group["refusal_rate"]["change_pp"] == 100.0


def test_psi_needs_enough_values() -> None:
    assert psi([1.0] * 19, [1.0] * 50) is None
    assert psi([float(i) for i in range(100)], [float(i) for i in range(100)]) == 0.0
    shifted = category_psi(["a"] * 30, ["a"] * 15 + ["b"] * 15)
    assert shifted is not None and shifted > 0.2


def test_a_baseline_at_one_value_still_sees_the_window_move_up() -> None:
    # A fixed prompt: every baseline request has 10 prompt tokens. Its deciles are all 10, and
    # a window at 1,000 tokens fell in the same bin as the baseline (PSI 0).
    assert (psi([10.0] * 40, [1000.0] * 40) or 0.0) > 0.2
    assert (psi([10.0] * 40, [1.0] * 40) or 0.0) > 0.2
    assert psi([10.0] * 40, [10.0] * 40) == 0.0
    # Mostly at a cap (max_tokens), a few below: a window past the cap moves too.
    capped = [256.0] * 36 + [float(i) for i in range(4)]
    assert (psi(capped, [512.0] * 40) or 0.0) > 0.2
    assert psi(capped, capped) == 0.0
