"""Reasoning text through a real gateway, read with the real SDKs: an output PII guardrail
redacts the email an upstream's reasoning names (`reasoning_content`, Anthropic `thinking`,
Responses reasoning summaries), in JSON answers and in streams sent one character per event;
a thinking block keeps its signature; reasoning sent back in the history is read on input; a
moderation model asked about a stream reads its reasoning as redacted; text put in the events
that open a block or an item is redacted too. Also what such answers become later: token log
probabilities refused, and a Responses answer remembered and fetched again
(`GET /v1/responses/{id}`) as the client was sent it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.reasoning_upstream import (
    EMAIL,
    SIGNATURE,
    THOUGHT,
    ReasoningUpstream,
    running_reasoning_upstream,
)
from tests.procs import Proc, start_gateway

KEY = "sk-reasoning-redact"
OUTPUT_KEY = "sk-reasoning-redact-output"
MODERATED_KEY = "sk-reasoning-moderated"
REDACTED = THOUGHT.replace(EMAIL, "<EMAIL_ADDRESS>")


@pytest.fixture(scope="module")
def upstream() -> Iterator[ReasoningUpstream]:
    with running_reasoning_upstream() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, upstream: ReasoningUpstream
) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("reasoning")
    (root / "policies").mkdir()
    (root / "policies" / "redact.toml").write_text(
        '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "both"\naction = "redact"\n'
    )
    (root / "policies" / "redact_out.toml").write_text(
        '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "output"\naction = "redact"\n'
    )
    # The moderation model is this upstream's `reasoner` (it keeps what it is asked; its
    # answer, "Hello!", is no verdict: on_error = "allow" lets the answer through).
    (root / "policies" / "moderated.toml").write_text(
        '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "output"\naction = "redact"\n'
        '[[guardrails]]\nname = "mod"\ntype = "moderation"\nmodel = "reasoner"\n'
        'applies_to = "output"\non_error = "allow"\n'
    )
    url = f"http://127.0.0.1:{upstream.server_address[1]}"
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    digest_out = hashlib.sha256(OUTPUT_KEY.encode()).hexdigest()
    (root / "config.toml").write_text(
        f"""
[server]
host = "127.0.0.1"
port = 8080

[logging]
path = "{root / "records.jsonl"}"

[[providers]]
name = "vllm"
type = "openai"
base_url = "{url}/v1"
responses = true

[[providers]]
name = "claude"
type = "anthropic"
base_url = "{url}"

[[models]]
name = "reasoner"
[[models.deployments]]
provider = "vllm"
model = "reasoner"

[[models]]
name = "thinker"
[[models.deployments]]
provider = "claude"
model = "thinker"

[[models]]
name = "opener-claude"
[[models.deployments]]
provider = "claude"
model = "opener"

[[models]]
name = "opener-vllm"
[[models.deployments]]
provider = "vllm"
model = "opener"

[[providers]]
name = "inproc"
type = "mock"
responses = false

[[models]]
name = "echo"
[[models.deployments]]
provider = "inproc"
model = "echo"

[[providers]]
name = "native"
type = "mock"
responses = true

[[models]]
name = "echo-native"
[[models.deployments]]
provider = "native"
model = "echo"

[[keys]]
id = "redact"
policy = "redact"
key_sha256 = "{digest}"

[[keys]]
id = "moderated"
policy = "moderated"
key_sha256 = "{hashlib.sha256(MODERATED_KEY.encode()).hexdigest()}"

[[keys]]
id = "redact_out"
policy = "redact_out"
key_sha256 = "{digest_out}"
"""
    )
    proc = start_gateway(root / "config.toml", ready_timeout_s=60)
    yield proc
    proc.stop()


def openai_client(gateway: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0)


def anthropic_client(gateway: Proc) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0)


HI: Any = [{"role": "user", "content": "Hi, I'm Jane."}]


def test_moderation_of_a_stream_reads_its_reasoning_as_redacted(
    gateway: Proc, upstream: ReasoningUpstream
) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=MODERATED_KEY, max_retries=0)
    stream = client.chat.completions.create(model="reasoner", messages=HI, stream=True)
    reasoning = "".join(
        (choice.delta.model_extra or {}).get("reasoning_content") or ""
        for chunk in stream
        for choice in chunk.choices
    )
    assert reasoning == REDACTED
    asked = upstream.bodies[-1]["messages"]
    assert "content moderator" in asked[0]["content"]
    assert REDACTED in asked[1]["content"] and "Hello!" in asked[1]["content"]
    assert EMAIL not in asked[1]["content"]


def test_chat_reasoning_content_is_redacted(gateway: Proc) -> None:
    answer = openai_client(gateway).chat.completions.create(model="reasoner", messages=HI)
    message = answer.choices[0].message
    assert (message.model_extra or {})["reasoning_content"] == REDACTED
    assert message.content == "Hello!"


def test_streamed_chat_reasoning_content_is_redacted(gateway: Proc) -> None:
    stream = openai_client(gateway).chat.completions.create(
        model="reasoner", messages=HI, stream=True
    )
    reasoning, content = "", ""
    for chunk in stream:
        for choice in chunk.choices:
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            content += choice.delta.content or ""
    assert (reasoning, content) == (REDACTED, "Hello!")


def test_anthropic_thinking_is_redacted_and_keeps_its_signature(gateway: Proc) -> None:
    answer = anthropic_client(gateway).messages.create(
        model="thinker",
        max_tokens=512,
        thinking={"type": "enabled", "budget_tokens": 256},
        messages=HI,
    )
    thinking, text = answer.content
    assert thinking.type == "thinking" and text.type == "text"
    assert (thinking.thinking, thinking.signature) == (REDACTED, SIGNATURE)


def test_streamed_anthropic_thinking_is_redacted(gateway: Proc) -> None:
    with anthropic_client(gateway).messages.stream(
        model="thinker",
        max_tokens=512,
        thinking={"type": "enabled", "budget_tokens": 256},
        messages=HI,
    ) as stream:
        answer = stream.get_final_message()
    thinking, text = answer.content
    assert thinking.type == "thinking" and text.type == "text"
    assert (thinking.thinking, thinking.signature, text.text) == (REDACTED, SIGNATURE, "Hello!")


def test_an_anthropic_stream_with_its_text_in_the_block_starts_is_redacted(
    gateway: Proc,
) -> None:
    with anthropic_client(gateway).messages.stream(
        model="opener-claude",
        max_tokens=512,
        thinking={"type": "enabled", "budget_tokens": 256},
        messages=HI,
    ) as stream:
        answer = stream.get_final_message()
    thinking, text = answer.content
    assert thinking.type == "thinking" and text.type == "text"
    assert (thinking.thinking, thinking.signature) == (REDACTED, SIGNATURE)
    assert text.text == "Hello <EMAIL_ADDRESS>!"


def test_a_responses_stream_with_its_text_in_the_items_added_is_redacted(gateway: Proc) -> None:
    seen = ""
    with openai_client(gateway).responses.stream(model="opener-vllm", input="Hi") as stream:
        for event in stream:
            seen += repr(event)
        answer = stream.get_final_response()
    assert EMAIL not in seen
    reasoning, message = answer.output
    assert reasoning.type == "reasoning" and message.type == "message"
    assert reasoning.summary[0].text == REDACTED
    assert answer.output_text == "Hello <EMAIL_ADDRESS>!"


def test_thinking_sent_back_in_the_history_is_read_on_input(
    gateway: Proc, upstream: ReasoningUpstream
) -> None:
    history: Any = [
        *HI,
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE},
                {"type": "text", "text": "Hello!"},
            ],
        },
        {"role": "user", "content": "Thanks."},
    ]
    anthropic_client(gateway).messages.create(model="thinker", max_tokens=512, messages=history)
    sent = upstream.bodies[-1]["messages"][1]["content"][0]
    assert sent == {"type": "thinking", "thinking": REDACTED, "signature": SIGNATURE}


def test_responses_reasoning_summary_is_redacted(gateway: Proc) -> None:
    answer = openai_client(gateway).responses.create(model="reasoner", input="Hi, I'm Jane.")
    reasoning = answer.output[0]
    assert reasoning.type == "reasoning"
    assert [part.text for part in reasoning.summary] == [REDACTED]
    assert answer.output_text == "Hello!"


def test_streamed_responses_reasoning_summary_is_redacted(gateway: Proc) -> None:
    stream = openai_client(gateway).responses.create(
        model="reasoner", input="Hi, I'm Jane.", stream=True
    )
    deltas, final = "", None
    for event in stream:
        if event.type == "response.reasoning_summary_text.delta":
            deltas += event.delta
        elif event.type == "response.completed":
            final = event.response
    assert deltas == REDACTED
    assert final is not None
    reasoning = final.output[0]
    assert reasoning.type == "reasoning"
    assert [part.text for part in reasoning.summary] == [REDACTED]


def test_logprobs_are_refused_on_a_key_with_output_redaction(gateway: Proc) -> None:
    # Each token's text would spell out the email the guardrail takes out of the content.
    with pytest.raises(openai.BadRequestError) as refused:
        openai_client(gateway).chat.completions.create(
            model="reasoner", messages=HI, logprobs=True, top_logprobs=2
        )
    assert refused.value.status_code == 400
    error = refused.value.body
    assert isinstance(error, dict) and error["param"] == "logprobs"
    assert error["type"] == "invalid_request_error"


def test_a_streamed_responses_answer_is_remembered_as_it_was_sent(gateway: Proc) -> None:
    # A translated deployment's answer is kept by the gateway (GET, follow-ups): the redacted
    # one the client saw, not the upstream's.
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=OUTPUT_KEY, max_retries=0)
    said = f"Write to {EMAIL} today."
    stream = client.responses.create(model="echo", input=said, stream=True)
    completed = [event.response for event in stream if event.type == "response.completed"]
    assert completed and completed[0].output_text == "Write to <EMAIL_ADDRESS> today."
    kept = client.responses.retrieve(completed[0].id)
    assert kept.output_text == "Write to <EMAIL_ADDRESS> today."


@pytest.mark.parametrize("stream", [False, True])
def test_a_response_fetched_again_is_guarded_as_it_was_sent(gateway: Proc, stream: bool) -> None:
    # A deployment that speaks Responses keeps the answer upstream, as it wrote it: fetched
    # again through the gateway, it gets the key's output guardrails again.
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=OUTPUT_KEY, max_retries=0)
    said = f"Write to {EMAIL} today."
    if stream:
        events = client.responses.create(model="echo-native", input=said, stream=True)
        (answer,) = [e.response for e in events if e.type == "response.completed"]
    else:
        answer = client.responses.create(model="echo-native", input=said)
    assert answer.output_text == "Write to <EMAIL_ADDRESS> today."
    kept = client.responses.retrieve(answer.id)
    assert kept.output_text == "Write to <EMAIL_ADDRESS> today."
