"""`gateway replay` and `gateway stats` on a log of 200 requests written by a real gateway.

The log mixes chat, JSON `response_format`, tool calls, Anthropic messages and streams, served by
the in-process `mock` provider (`echo` answers with the last user message). The real CLI runs
as a subprocess: in-process against `--config`, and against the running gateway's URL.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.records import wait_for_records
from tests.procs import REPO, Proc, start_gateway

KEY = "sk-replay-e2e"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
CONFIG = f"""
[logging]
path = "logs/requests.jsonl"
include_bodies = true

[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "echo"
[[models.deployments]]
provider = "mock"
model = "echo"

[[models]]
name = "gpt-mock"
[[models.deployments]]
provider = "mock"
model = "mock-small"
input_cost_per_1m = 1.0
output_cost_per_1m = 2.0

[[models]]
name = "gpt-mock-pricey"
[[models.deployments]]
provider = "mock"
model = "mock-small"
input_cost_per_1m = 1.5
output_cost_per_1m = 3.0

[[models]]
name = "other-mock"
[[models.deployments]]
provider = "mock"
model = "other-small"
input_cost_per_1m = 1.0
output_cost_per_1m = 2.0

[[keys]]
id = "e2e"
team = "evals"
key_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"
"""
# (model, kind, how many): 150 echo records and 50 gpt-mock ones, 200 in all.
MIX = [
    ("echo", "chat", 80),
    ("echo", "json", 30),
    ("echo", "messages", 20),
    ("echo", "stream", 20),
    ("gpt-mock", "tools", 30),
    ("gpt-mock", "json", 20),
]
WORDS = [
    "order",
    "invoice",
    "refund",
    "shipping",
    "delay",
    "password",
    "account",
    "billing",
    "address",
    "warranty",
]


def _request(model: str, kind: str, i: int) -> tuple[str, dict[str, Any]]:
    word = WORDS[i % len(WORDS)]
    text = f"please check the {word} for customer {i} and reply <b>politely</b> & fast"
    messages = [{"role": "user", "content": text}]
    if kind == "messages":
        return "/v1/messages", {"model": model, "max_tokens": 200, "messages": messages}
    body: dict[str, Any] = {"model": model, "messages": messages, "temperature": 0.2}
    if kind == "json":
        # echo answers with the message itself, so make the message a JSON document.
        body["messages"] = [
            {"role": "user", "content": json.dumps({"customer": i, "question": text})}
        ]
        body["response_format"] = {"type": "json_object"}
    elif kind == "tools":
        body["tools"] = TOOLS
    elif kind == "stream":
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return "/v1/chat/completions", body


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Path, Path]]:
    root = tmp_path_factory.mktemp("replay")
    config = root / "config.toml"
    config.write_text(CONFIG)
    gateway = start_gateway(config)
    log = root / "logs" / "requests.jsonl"
    try:
        with httpx.Client(
            base_url=gateway.url, headers={"authorization": f"Bearer {KEY}"}, timeout=10
        ) as client:
            for model, kind, count in MIX:
                for i in range(count):
                    path, body = _request(model, kind, i)
                    response = client.post(path, json=body)
                    assert response.status_code == 200, response.text
        wait_for_records(200, log, timeout_s=10)
        # A snapshot: replays through the gateway's URL append their own records to its log.
        snapshot = root / "snapshot.jsonl"
        snapshot.write_text(log.read_text())
        yield gateway, config, snapshot
    finally:
        gateway.stop()


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out + err


def test_replay_reports_and_gates(logged: tuple[Proc, Path, Path], tmp_path: Path) -> None:
    gateway, config, log = logged
    reports = {
        name: tmp_path / name / "report.json" for name in ("echo", "other", "pricey", "pricey-pass")
    }
    # Every run at once: each is its own process, and the gateway serves them all.
    runs = {
        "echo": _cli(
            "replay",
            str(log),
            "--model",
            "echo",
            "--config",
            str(config),
            "--filter-model",
            "echo",
            "--report",
            str(reports["echo"]),
            "--gate",
            "exact_match_rate >= 1 and similarity_mean >= 0.99",
        ),
        "other": _cli(
            "replay",
            str(log),
            "--model",
            "other-mock",
            "--base-url",
            gateway.url + "/v1",
            "--key",
            KEY,
            "--config",
            str(config),
            "--filter-model",
            "echo",
            "--concurrency",
            "16",
            "--report",
            str(reports["other"]),
            "--gate",
            "similarity_mean>=0.9",
        ),
        "pricey": _cli(
            "replay",
            str(log),
            "--model",
            "gpt-mock-pricey",
            "--config",
            str(config),
            "--filter-model",
            "gpt-mock",
            "--report",
            str(reports["pricey"]),
            "--gate",
            "similarity_mean>=0.9 and cost_ratio<=1.2",
        ),
        "pricey-pass": _cli(
            "replay",
            str(log),
            "--model",
            "gpt-mock-pricey",
            "--config",
            str(config),
            "--filter-model",
            "gpt-mock",
            "--report",
            str(reports["pricey-pass"]),
            "--gate",
            "tool_agreement_rate == 1 and (cost_ratio <= 1.6 or not latency_ratio < 100)",
        ),
    }
    results = {name: _finish(process) for name, process in runs.items()}

    # echo against itself: every answer identical.
    code, output = results["echo"]
    assert code == 0, output
    assert "gate passed" in output
    echo = json.loads(reports["echo"].read_text())
    summary = echo["summary"]
    assert summary["count"] == 150 and summary["error_count"] == 0
    assert summary["exact_match_rate"] == 1.0 and summary["similarity_mean"] == 1.0
    assert summary["json_count"] == 30 and summary["json_valid_rate"] == 1.0
    assert summary["tokens_new"] == summary["tokens_old"] > 0
    assert summary["cost_old"] == summary["cost_new"] == 0.0 and summary["cost_ratio"] == 1.0
    assert summary["latency_p50_old"] > 0 and summary["latency_p50_new"] > 0
    assert len(echo["rows"]) == 150 and echo["gate"]["passed"] is True
    assert {row["endpoint"] for row in echo["rows"]} == {"/v1/chat/completions", "/v1/messages"}

    # echo's log against a different model, through the gateway's URL: the gate fails.
    code, output = results["other"]
    assert code == 1, output
    assert "gate FAILED" in output and "similarity_mean>=0.9: FALSE" in output
    other = json.loads(reports["other"].read_text())["summary"]
    assert other["count"] == 150 and other["error_count"] == 0
    assert other["exact_match_rate"] == 0.0 and other["similarity_mean"] < 0.5
    assert other["json_valid_rate"] == 1.0  # the mock wraps JSON answers in {"answer": ...}
    assert other["cost_old"] == 0.0 and other["cost_new"] > 0 and other["cost_ratio"] is None

    # Same upstream model at 1.5x the price: same answers and tool calls, cost ratio 1.5.
    code, output = results["pricey"]
    assert code == 1, output
    assert "cost_ratio<=1.2: FALSE" in output and "similarity_mean>=0.9: true" in output
    pricey = json.loads(reports["pricey"].read_text())["summary"]
    assert pricey["count"] == 50 and pricey["exact_match_rate"] == 1.0
    assert pricey["tool_count"] == 30 and pricey["tool_agreement_rate"] == 1.0
    assert pricey["json_count"] == 20 and pricey["json_valid_rate"] == 1.0
    assert pricey["cost_ratio"] == pytest.approx(1.5, rel=1e-6)
    code, output = results["pricey-pass"]
    assert code == 0, output

    _check_html(reports["other"].with_suffix(".html"), tmp_path)


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check_html(path: Path, tmp_path: Path) -> None:
    html = path.read_text()
    parser = _Structure()
    parser.feed(html)
    assert parser.tags.get("table", 0) >= 2
    assert parser.tags.get("svg", 0) == 4
    assert parser.tags.get("details", 0) == 150
    assert parser.tags.get("del", 0) > 0 and parser.tags.get("ins", 0) > 0
    assert not parser.external, f"external assets: {parser.external[:3]}"
    assert "<b>politely</b>" not in html and "&lt;b&gt;politely&lt;/b&gt;" in html
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={shot}",
            "--window-size=1280,1600",
            path.resolve().as_uri(),
        ],
        check=False,
        capture_output=True,
        timeout=60,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1600)
    assert len(data) > 50_000, "the screenshot is nearly blank"


def test_stats_sums_the_log(logged: tuple[Proc, Path, Path]) -> None:
    _, _, log = logged
    records = [json.loads(line) for line in log.read_text().splitlines()]
    code, output = _finish(_cli("stats", str(log), "--since", "1h", "--by", "model,team", "--json"))
    assert code == 0, output
    stats = json.loads(output)
    assert stats["total"]["requests"] == len(records) == 200
    assert stats["total"]["spend_usd"] == pytest.approx(
        sum(r["cost_usd"] for r in records), abs=1e-9
    )
    by_model = {g["model"]: g for g in stats["groups"]}
    assert by_model["echo"]["requests"] == 150 and by_model["gpt-mock"]["requests"] == 50
    assert by_model["echo"]["team"] == "evals" and by_model["gpt-mock"]["errors"] == 0
    code, output = _finish(_cli("stats", str(log), "--by", "model"))
    assert code == 0 and "TOTAL" in output and "gpt-mock" in output
