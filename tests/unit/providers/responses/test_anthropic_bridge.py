"""An Anthropic client of a deployment served through the Responses API: Messages -> chat ->
Responses, and back."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError
from gateway.providers import adapter_for
from gateway.providers.checked import CheckedAdapter
from gateway.providers.responses.anthropic_bridge import AnthropicThroughResponses
from gateway.providers.responses.chat_bridge import ChatThroughResponses
from gateway.providers.responses.responses_only import responses_only_model
from gateway.sse import encode_event

PROVIDER = ProviderConfig(name="oai", type="openai", base_url="https://api.openai.com/v1")
DEPLOYMENT = DeploymentConfig(provider="oai", model="gpt-5.1-codex", api="responses")
CREATED: dict[str, Any] = {"type": "response.created", "response": {"id": "resp_1", "model": "m"}}


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(encode_event(orjson.dumps(e), e["type"]) for e in events)


def names(out: list[bytes]) -> list[str]:
    return [piece.split(b"\n")[0].removeprefix(b"event: ").decode() for piece in out]


def test_it_is_chosen_for_anthropic_clients_of_such_a_deployment() -> None:
    chosen = adapter_for("messages", PROVIDER, None, {}, "responses")
    assert isinstance(chosen, CheckedAdapter)
    assert isinstance(chosen.inner, AnthropicThroughResponses)


def test_a_messages_request_goes_as_a_responses_request() -> None:
    body = {
        "model": "pub",
        "max_tokens": 30,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    call = AnthropicThroughResponses().prepare(body, DEPLOYMENT, PROVIDER, "k")
    assert call.url == "https://api.openai.com/v1/responses"
    sent = orjson.loads(call.body)
    assert sent["model"] == "gpt-5.1-codex" and sent["max_output_tokens"] == 30
    assert [item["role"] for item in sent["input"]] == ["system", "user"]
    assert sent["stream"] is True and "stream_options" not in sent


def test_a_stream_becomes_anthropic_events_with_the_usage() -> None:
    stream = AnthropicThroughResponses().stream({"model": "pub", "messages": []})
    events = [
        CREATED,
        {"type": "response.output_text.delta", "output_index": 0, "delta": "Hi"},
        {
            "type": "response.completed",
            "response": {"status": "completed", "usage": {"input_tokens": 4, "output_tokens": 1}},
        },
    ]
    out = stream.feed(sse(events)) + stream.finish()
    assert names(out) == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert stream.text == ["Hi"] and stream.written_text() == "Hi"
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (4, 1)


def test_what_came_before_a_failure_is_relayed_in_the_clients_format() -> None:
    stream = AnthropicThroughResponses().stream({"model": "pub", "messages": []})
    failed = {"type": "response.failed", "response": {"status": "failed", "error": {"code": "x"}}}
    text = {"type": "response.output_text.delta", "output_index": 0, "delta": "Hi"}
    with pytest.raises(GatewayError) as caught:
        stream.feed(sse([CREATED, text, failed]))
    assert names(list(caught.value.pending))[:3] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
    ]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-5-codex", True),
        ("gpt-5.1-codex-max", True),
        ("codex-mini-latest", True),
        ("gpt-5-pro", True),
        ("gpt-5.4-pro-2026-03-05", True),
        ("o3-pro", True),
        ("o1-pro-2025-03-19", True),
        ("o4-mini-deep-research", True),
        ("computer-use-preview", True),
        ("gpt-5.4", False),
        ("gpt-5.6-sol", False),
        ("gpt-4o", False),
        ("o3", False),
        ("gpt-5-procurement-bot", False),
    ],
)
def test_the_models_served_through_responses_only_are_known_by_name(
    model: str, expected: bool
) -> None:
    assert responses_only_model(model) is expected


def test_auto_takes_the_responses_api_for_such_a_model_where_the_provider_has_it() -> None:
    vllm = ProviderConfig(name="v", type="openai", base_url="http://vllm:8000/v1")
    for provider, api, model, bridged in (
        (PROVIDER, "auto", "gpt-5.1-codex", True),
        (PROVIDER, "auto", "gpt-5.4", False),
        (PROVIDER, "chat", "gpt-5.1-codex", False),
        (PROVIDER, "responses", "gpt-5.4", True),
        (vllm, "auto", "gpt-5.1-codex", False),  # no Responses API there: as asked
    ):
        for kind in ("chat", "messages"):
            chosen = adapter_for(kind, provider, None, {}, api, model)  # type: ignore[arg-type]
            assert isinstance(chosen, CheckedAdapter)
            assert isinstance(chosen.inner, ChatThroughResponses) is bridged, (api, model, kind)
