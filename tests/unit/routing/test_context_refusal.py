"""A prompt past the context window, refused in the words clients recognise an overflow by:
OpenAI's ("This model's maximum context length is N tokens. However, your messages resulted in
M tokens.", `code: context_length_exceeded`) and Anthropic's ("prompt is too long: M tokens > N
maximum"; its body has no code). LiteLLM's ContextWindowExceededError and Claude Code's
compaction match those words; the gateway's own refusal said neither."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.unit.pipeline.app_harness import open_gateway

CONFIG = """
[[providers]]
name = "oai"
type = "openai"
base_url = "http://openai.invalid/v1"

[[providers]]
name = "ant"
type = "anthropic"
base_url = "http://anthropic.invalid"

[[models]]
name = "small"
[[models.deployments]]
provider = "oai"
model = "gpt-small"
context_window = 40
[[models.deployments]]
provider = "oai"
model = "gpt-smaller"
context_window = 30

[[models]]
name = "openai-upstream"
[[models.deployments]]
provider = "oai"
model = "gpt"

[[models]]
name = "anthropic-upstream"
[[models.deployments]]
provider = "ant"
model = "claude"

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""
LONG = "lorem ipsum dolor sit amet " * 40  # about 200 tokens
OPENAI_OVERFLOW = (
    "This model's maximum context length is 128000 tokens. However, your messages resulted in "
    "130412 tokens. Please reduce the length of the messages."
)
ANTHROPIC_OVERFLOW = (
    "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, decrease "
    "input length or `max_tokens` and try again"
)


def overflowing(request: UpstreamRequest) -> FakeReply:
    """Each upstream's own 400 for a prompt past its window."""
    if request.url.startswith("http://anthropic.invalid"):
        error: dict[str, Any] = {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": ANTHROPIC_OVERFLOW},
        }
    else:
        error = {
            "error": {
                "message": OPENAI_OVERFLOW,
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        }
    return FakeReply(400, {"content-type": "application/json"}, orjson.dumps(error))


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": LONG}]}


def messages(model: str) -> dict[str, Any]:
    return {**chat(model), "max_tokens": 10}


async def test_the_gateways_own_refusal_says_what_openai_says(tmp_path: Path) -> None:
    async with open_gateway(tmp_path, CONFIG, {}, overflowing) as gateway:
        refused = await gateway.client.post("/v1/chat/completions", json=chat("small"))
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "context_length_exceeded",
        "messages",
    )
    # The largest window of the model's deployments, and the gateway's count of the prompt.
    found = re.match(
        r"This model's maximum context length is 40 tokens\. However, your messages resulted "
        r"in (\d+) tokens",
        error["message"],
    )
    assert found is not None, error["message"]
    assert 150 < int(found.group(1)) < 260
    assert "'small'" in error["message"]


async def test_the_gateways_own_refusal_says_what_anthropic_says(tmp_path: Path) -> None:
    async with open_gateway(tmp_path, CONFIG, {}, overflowing) as gateway:
        refused = await gateway.client.post("/v1/messages", json=messages("small"))
    assert refused.status_code == 400
    body = refused.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    found = re.fullmatch(r"prompt is too long: (\d+) tokens > 40 maximum", body["error"]["message"])
    assert found is not None, body["error"]["message"]
    assert 150 < int(found.group(1)) < 260


@pytest.mark.parametrize(
    ("path", "model", "code", "message"),
    [
        # An OpenAI-format upstream's overflow, to an Anthropic client: Anthropic's first words.
        ("/v1/messages", "openai-upstream", None, f"prompt is too long: {OPENAI_OVERFLOW}"),
        # Anthropic's own words reach an Anthropic client as they are.
        ("/v1/messages", "anthropic-upstream", None, ANTHROPIC_OVERFLOW),
        # An OpenAI client gets each upstream's words and OpenAI's code.
        ("/v1/chat/completions", "openai-upstream", "context_length_exceeded", OPENAI_OVERFLOW),
        (
            "/v1/chat/completions",
            "anthropic-upstream",
            "context_length_exceeded",
            ANTHROPIC_OVERFLOW,
        ),
    ],
)
async def test_an_upstreams_overflow_reaches_each_client_in_words_it_knows(
    tmp_path: Path, path: str, model: str, code: str | None, message: str
) -> None:
    body = messages(model) if path == "/v1/messages" else chat(model)
    async with open_gateway(tmp_path, CONFIG, {}, overflowing) as gateway:
        refused = await gateway.client.post(path, json=body)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error.get("code"), error["message"]) == (code, message)
