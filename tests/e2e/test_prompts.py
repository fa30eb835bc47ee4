"""The prompt registry end to end: two real gateways on one config, the real SDKs, live edits,
and the promotion loop (log on version 1, replay with version 2, promote on the gate)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.conditions import wait_until
from tests.e2e.guarded_gateway import upstream_saw
from tests.e2e.records import read_records, wait_for_record
from tests.e2e.sdk_answers import first_text
from tests.procs import REPO, Proc, start_gateways

KEY = "sk-prompts-test"
ADMIN_KEY = "admin-prompts-test"
ENV = {"PROMPTS_ADMIN_KEY": ADMIN_KEY}
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}

SUPPORT = """\
# The support bot's prompt: reviewed by the support team.
[[versions]]
version = 1
messages = [{ role = "system", content = "You answer questions about {{product}}." }]
params = { temperature = 0.2 }

[[versions]]
version = 2   # shorter answers
messages = [{ role = "system", content = "You are {{product}}'s support. Be brief." }]

[aliases]
production = 1   # what users get
"""


def config_text(upstream: Proc) -> str:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    return f"""[admin]
key_env = "PROMPTS_ADMIN_KEY"

[logging]
path = "requests.jsonl"
include_bodies = true

[[providers]]
name = "mock"
type = "openai"
base_url = "{upstream.url}/v1"

[[providers]]
name = "mock-ant"
type = "anthropic"
base_url = "{upstream.url}"

[[models]]
name = "echo"
[[models.deployments]]
provider = "mock"
model = "echo"

[[models]]
name = "claude-echo"
[[models.deployments]]
provider = "mock-ant"
model = "echo"

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Path:
    root = tmp_path_factory.mktemp("prompts")
    (root / "prompts").mkdir()
    (root / "prompts" / "support-bot.toml").write_text(SUPPORT)
    (root / "config.toml").write_text(config_text(mock_upstream))
    return root


@pytest.fixture(scope="module")
def replicas(root: Path) -> Iterator[list[Proc]]:
    procs = start_gateways([root / "config.toml"] * 2, env=ENV)
    yield procs
    for proc in procs:
        proc.stop()


def oai(proc: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=proc.url + "/v1", api_key=KEY, max_retries=0)


def ask(proc: Proc, prompt: dict[str, object], user: str = "u1") -> str:
    answer = oai(proc).chat.completions.with_raw_response.create(
        model="echo",
        messages=[{"role": "user", "content": "How do I reset my password?"}],
        user=user,
        extra_body={"prompt": prompt},
    )
    assert answer.parse().choices[0].message.content == "How do I reset my password?"
    return answer.headers["x-request-id"]


def test_openai_sdk_renders_the_version_into_the_upstream_call(
    replicas: list[Proc], root: Path, mock_upstream: Proc
) -> None:
    request_id = ask(replicas[0], {"id": "support-bot", "variables": {"product": "Acme"}})
    sent = json.loads(upstream_saw(mock_upstream))
    assert sent["messages"] == [
        {"role": "system", "content": "You answer questions about Acme."},
        {"role": "user", "content": "How do I reset my password?"},
    ]
    assert sent["temperature"] == 0.2 and "prompt" not in sent
    record = wait_for_record(root / "requests.jsonl", request_id)
    assert (record["prompt_id"], record["prompt_version"], record["prompt_alias"]) == (
        "support-bot",
        1,
        "production",
    )
    assert len(record["prompt_hash"]) == 16
    assert record["prompt_variables"] == {"product": "Acme"}
    # The log keeps the client's own messages: a replay renders another version in their place.
    assert record["request"]["messages"] == [
        {"role": "user", "content": "How do I reset my password?"}
    ]

    def counted() -> bool:
        text = httpx.get(replicas[0].url + "/metrics").text
        return (
            'gateway_prompt_requests_total{prompt="support-bot",prompt_version="1",status="200"}'
            in text
        )

    wait_until(counted, 5, message="the prompt's request is not in /metrics")


def test_header_and_anthropic_sdk(replicas: list[Proc], mock_upstream: Proc) -> None:
    with anthropic.Anthropic(base_url=replicas[1].url, api_key=KEY, max_retries=0) as client:
        message = client.messages.create(
            model="claude-echo",
            max_tokens=50,
            system="Reply in English.",
            messages=[{"role": "user", "content": "hello"}],
            extra_headers={"x-gateway-prompt": "support-bot@2"},
            extra_body={"prompt": {"variables": {"product": "Acme"}}},
        )
        assert first_text(message) == "hello"
        sent = json.loads(upstream_saw(mock_upstream))
        assert sent["system"] == [
            {"type": "text", "text": "You are Acme's support. Be brief."},
            {"type": "text", "text": "Reply in English."},
        ]


def test_bad_references_are_refused_in_the_sdk_shapes(replicas: list[Proc]) -> None:
    client = oai(replicas[0])
    with pytest.raises(openai.BadRequestError) as missing:
        client.chat.completions.create(
            model="echo",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"prompt": {"id": "support-bot", "version": 1}},
        )
    assert missing.value.code == "prompt_variable_missing"
    assert "product" in missing.value.message
    for prompt in ({"id": "nope"}, {"id": "support-bot", "version": 9}):
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="echo",
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"prompt": {**prompt, "variables": {"product": "A"}}},
            )
    with pytest.raises(anthropic.BadRequestError):
        anthropic.Anthropic(base_url=replicas[0].url, api_key=KEY, max_retries=0).messages.create(
            model="claude-echo",
            max_tokens=5,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-gateway-prompt": "support-bot@1"},
        )


def admin_prompt(proc: Proc) -> dict[str, object]:
    data = httpx.get(proc.url + "/admin/prompts", headers=ADMIN).json()
    return next(p for p in data["prompts"] if p["id"] == "support-bot")


def has_canary_v3(proc: Proc) -> bool:
    aliases = admin_prompt(proc)["aliases"]
    return isinstance(aliases, dict) and aliases.get("canary") == {"version": 3, "weight": 0.1}


def test_live_edit_applies_on_both_replicas_and_a_used_version_cannot_change(
    replicas: list[Proc], root: Path
) -> None:
    ask(replicas[0], {"id": "support-bot", "variables": {"product": "Acme"}})  # uses version 1
    file = root / "prompts" / "support-bot.toml"
    before = file.read_text()
    v3 = (
        "\n[[versions]]\nversion = 3\n"
        'messages = [{ role = "system", content = "v3 {{product}}" }]\n'
    )
    file.write_text(
        before.replace("[aliases]", v3.lstrip("\n") + "\n[aliases]")
        + "canary = { version = 3, weight = 0.1 }\n"
    )
    for proc in replicas:
        wait_until(
            partial(has_canary_v3, proc),
            1.5,  # the 1 s the issue asks, plus room for a loaded 2-core machine
            message=f"{proc.url} did not apply the new version and canary within 1 s",
        )
    edited = file.read_text().replace("You answer questions", "You answer all questions")
    file.write_text(edited)
    line = (
        edited.splitlines().index(
            'messages = [{ role = "system", content = '
            '"You answer all questions about {{product}}." }]'
        )
        + 1
    )

    def refused(proc: Proc) -> list[str] | None:
        status = httpx.get(proc.url + "/admin/config/status", headers=ADMIN).json()
        error = status.get("last_error") or {}
        return error.get("problems") if status["last_result"] == "error" else None

    for proc in replicas:
        problems = wait_until(partial(refused, proc), 5, message="edit not refused")
        assert any(f"support-bot.toml:{line}:" in p and "add a new version" in p for p in problems)
        # The old registry still serves version 1's text.
        detail = admin_prompt(proc)["detail"]
        assert "You answer questions" in json.dumps(detail)
    file.write_text(before)


def gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **ENV},
        timeout=120,
    )


def test_promotion_loop(replicas: list[Proc], root: Path) -> None:
    for user in ("a", "b", "c"):
        ask(replicas[0], {"id": "support-bot", "variables": {"product": "Acme"}}, user)
    log = root / "requests.jsonl"
    wait_until(lambda: len([r for r in read_records(log) if r.get("prompt_version") == 1]) >= 3, 5)
    config, file = root / "config.toml", root / "prompts" / "support-bot.toml"
    common = ["--prompt", "support-bot", "--candidate", "2", "--config", str(config)]
    failing = gateway(
        "replay",
        str(log),
        *common,
        "--report",
        str(root / "fail.json"),
        "--gate",
        "similarity_mean>=1.5",
    )
    assert failing.returncode == 1, failing.stdout + failing.stderr
    passing = gateway(
        "replay",
        str(log),
        *common,
        "--report",
        str(root / "pass.json"),
        "--gate",
        "similarity_mean>=0.9",
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr
    report = json.loads((root / "pass.json").read_text())
    shown = json.loads(gateway("prompts", "--config", str(config), "show", "support-bot").stdout)
    candidate_hash = next(v["hash"] for v in shown["detail"] if v["version"] == 2)
    assert report["prompt"] == {"id": "support-bot", "candidate": 2, "hash": candidate_hash}
    assert report["summary"]["count"] >= 3

    promote = ["prompts", "--config", str(config), "promote", "support-bot", "2"]
    refused = gateway(*promote, "--report", str(root / "fail.json"))
    assert refused.returncode == 1 and "gate failed" in refused.stderr
    assert "production = 1" in file.read_text()
    done = gateway(*promote, "--report", str(root / "pass.json"))
    assert done.returncode == 0, done.stderr
    text = file.read_text()
    assert "# The support bot's prompt: reviewed by the support team." in text
    assert "production = 2   # what users get" in text
    assert "[[versions.evals]]" in text and "similarity_mean" in text

    def serves_version_2() -> bool:
        request_id = ask(replicas[1], {"id": "support-bot", "variables": {"product": "Acme"}})
        return bool(wait_for_record(log, request_id)["prompt_version"] == 2)

    wait_until(serves_version_2, 5, interval_s=0.2, message="production never moved to 2")
