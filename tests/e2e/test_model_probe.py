"""A one-token check of a model (Claude Code's `/model` sends `max_tokens: 1`, "Hi", and calls
the model unusable if that throws) through the gateway to OpenAI's reasoning models: on chat
completions (the mock refuses as OpenAI does: "Could not finish the message because max_tokens
or model output limit was reached"), answered as the empty answer the limit cut; through the
Responses API (a codex model: "Invalid 'max_output_tokens': integer below minimum value"), sent
OpenAI's least, 16. The anthropic and openai SDKs, JSON and streams."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from anthropic.types import MessageParam

from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_logged_gateway

KEY = "sk-model-probe"
PROBE: list[MessageParam] = [
    {
        "role": "user",
        "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}],
    }
]


def _config(upstream: str, log: Path) -> str:
    return f"""
[logging]
path = "{log}"

[[providers]]
name = "chat"
type = "openai"
base_url = "{upstream}/v1"
responses = false

[[providers]]
name = "oai"
type = "openai"
base_url = "{upstream}/v1"
responses = true

[[models]]
name = "gpt"
[[models.deployments]]
provider = "chat"
model = "gpt-5.2"
reasoning = true

[[models]]
name = "codex"
[[models.deployments]]
provider = "oai"
model = "gpt-5.3-codex"
reasoning = true

[[keys]]
id = "k"
key_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("model-probe")
    proc = start_logged_gateway(root, lambda log: _config(mock_upstream.url, log))
    yield proc
    proc.stop()


def test_the_upstream_refuses_a_one_token_limit(mock_upstream: Proc) -> None:
    # What OpenAI answers, and the gateway must not pass on to a model check.
    chat = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "Hi"}]}
    refused = httpx.post(f"{mock_upstream.url}/v1/chat/completions",
                         json={**chat, "max_completion_tokens": 1})  # fmt: skip
    assert refused.status_code == 400 and "Could not finish" in refused.text
    responses = {"model": "gpt-5.3-codex", "input": "Hi", "max_output_tokens": 1}
    refused = httpx.post(f"{mock_upstream.url}/v1/responses", json=responses)
    assert refused.status_code == 400 and "integer_below_min_value" in refused.text


@pytest.mark.parametrize("model", ["gpt", "codex"])
def test_claude_codes_model_check_passes(gateway: Proc, model: str) -> None:
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as sdk:
        raw = sdk.messages.with_raw_response.create(model=model, max_tokens=1, messages=PROBE)
        message = raw.parse()
        assert message.stop_reason == "max_tokens"
        assert message.usage.input_tokens >= 0 and message.usage.output_tokens >= 0
        with sdk.messages.stream(model=model, max_tokens=1, messages=PROBE) as stream:
            final = stream.get_final_message()
        assert final.stop_reason == "max_tokens"
    assert gateway.log_path is not None
    record = wait_for_record(gateway.log_path, raw.headers["request-id"])
    assert record["status"] == 200 and record["finish_reason"] in ("length", "max_tokens")
    if model == "gpt":  # the upstream's 400 is the attempt's, the request's answer the gateway's
        assert [a["status"] for a in record["attempts"]] == [400]


def test_a_chat_client_gets_the_cut_answer_too(gateway: Proc) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        answer = sdk.chat.completions.create(
            model="gpt", max_completion_tokens=1, messages=[{"role": "user", "content": "Hi"}]
        )
        assert answer.choices[0].finish_reason == "length"
        assert answer.choices[0].message.content == ""
        chunks = list(
            sdk.chat.completions.create(
                model="gpt",
                max_completion_tokens=1,
                messages=[{"role": "user", "content": "Hi"}],
                stream=True,
            )
        )
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
        # A limit with room is the model's own answer, as before.
        roomy = sdk.chat.completions.create(
            model="gpt", max_completion_tokens=64, messages=[{"role": "user", "content": "Hi"}]
        )
        assert roomy.choices[0].message.content
