"""The Responses adapters: which one serves which provider, and the bytes they make."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig, ProviderType
from gateway.config.types import DeploymentConfig
from gateway.errors import UpstreamFailed, UpstreamStreamError
from gateway.providers import adapter_for, speaks_responses, wire_provider
from gateway.providers.anthropic.structured_output import STRUCTURED_TOOL
from gateway.providers.checked import CheckedAdapter
from gateway.providers.responses.adapters import (
    ResponsesPassthrough,
    ResponsesToAnthropic,
    ResponsesToChat,
)
from gateway.sse import encode_event

DEPLOYMENT = DeploymentConfig(provider="p", model="up-model")


def provider(kind: ProviderType, base_url: str, responses: bool | None = None) -> ProviderConfig:
    return ProviderConfig(name="p", type=kind, base_url=base_url, responses=responses)


def test_which_providers_speak_responses() -> None:
    assert speaks_responses(provider("openai", "https://api.openai.com/v1"))
    assert not speaks_responses(provider("openai", "http://vllm:8000/v1"))
    assert speaks_responses(provider("openai", "http://vllm:8000/v1", responses=True))
    assert not speaks_responses(provider("openai", "https://api.openai.com/v1", responses=False))
    assert not speaks_responses(provider("anthropic", "https://api.anthropic.com"))
    # Azure: only when said (an older api-version, or a region without it, has none).
    assert not speaks_responses(provider("azure", "https://res.openai.azure.com"))
    assert speaks_responses(provider("azure", "https://res.openai.azure.com", responses=True))
    mock = wire_provider(provider("mock", ""), "responses")
    assert mock.type == "openai" and speaks_responses(mock)
    body = {"model": "pub", "input": "hi"}
    # Each adapter comes behind CheckedAdapter (an upstream's malformed answer is a 502).
    chosen = adapter_for("responses", provider("openai", "http://x/v1"), None, body)
    assert isinstance(chosen, CheckedAdapter)
    chosen = chosen.inner
    assert isinstance(chosen, ResponsesToChat) and not isinstance(chosen, ResponsesToAnthropic)
    to_anthropic = adapter_for("responses", provider("anthropic", "http://x"))
    assert isinstance(to_anthropic, CheckedAdapter)
    assert isinstance(to_anthropic.inner, ResponsesToAnthropic)
    passthrough = adapter_for("responses", provider("openai", "http://x/v1", True))
    assert isinstance(passthrough, CheckedAdapter)
    assert isinstance(passthrough.inner, ResponsesPassthrough)


def test_passthrough_changes_only_the_model_and_reads_usage_from_the_stream() -> None:
    body = {"model": "pub", "input": "hi", "store": False, "metadata": {"a": "b"}}
    call = ResponsesPassthrough().prepare(body, DEPLOYMENT, provider("openai", "http://x/v1"), "k")
    assert call.url == "http://x/v1/responses"
    assert call.headers["authorization"] == "Bearer k"
    assert orjson.loads(call.body) == {**body, "model": "up-model"}
    usage = {
        "input_tokens": 7,
        "output_tokens": 3,
        "output_tokens_details": {"reasoning_tokens": 2},
    }
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "resp_9"}},
        {"type": "response.output_text.delta", "delta": "Hi"},
        {"type": "response.completed", "response": {"id": "resp_9", "usage": usage}},
    ]
    raw = b"".join(encode_event(orjson.dumps(e), e["type"]) for e in events)
    stream = ResponsesPassthrough().stream(body)
    assert b"".join(stream.feed(raw[:30]) + stream.feed(raw[30:])) == raw
    assert stream.finish() == []
    assert stream.text == ["Hi"] and stream.response is not None
    assert stream.response["id"] == "resp_9"
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (7, 3)
    assert stream.usage.reasoning_tokens == 2


def test_anthropic_chain_json_and_structured_output() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {
        "model": "pub",
        "input": "hi",
        "instructions": "brief",
        "max_output_tokens": 50,
        "text": {"format": {"type": "json_schema", "name": "A", "schema": schema}},
    }
    adapter = ResponsesToAnthropic(body)
    call = adapter.prepare(body, DEPLOYMENT, provider("anthropic", "http://a"), "k")
    sent = orjson.loads(call.body)
    assert call.url == "http://a/v1/messages" and call.headers["x-api-key"] == "k"
    assert sent["model"] == "up-model" and sent["max_tokens"] == 50
    assert sent["tool_choice"] == {"type": "tool", "name": STRUCTURED_TOOL}
    assert sent["tools"][0]["input_schema"] == schema
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "up-model",
        "content": [{"type": "tool_use", "id": "t", "name": STRUCTURED_TOOL, "input": {"a": "x"}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 9, "output_tokens": 4, "cache_read_input_tokens": 2},
    }
    data, usage, parsed = adapter.convert_json(orjson.dumps(message))
    assert parsed["output"][0]["type"] == "message"
    assert orjson.loads(parsed["output"][0]["content"][0]["text"]) == {"a": "x"}
    assert parsed["instructions"] == "brief" and parsed["id"].startswith("resp_")
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (11, 4, 2)
    assert orjson.loads(data) == parsed


SCHEMA_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "name": "A",
    "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
}


def test_a_streamed_structured_output_from_claude_is_the_answers_text() -> None:
    body = {"model": "pub", "input": "hi", "stream": True, "text": {"format": SCHEMA_FORMAT}}
    block = {"type": "tool_use", "id": "t", "name": STRUCTURED_TOOL, "input": {}}
    delta = {"type": "input_json_delta", "partial_json": '{"a": "x"}'}
    events = [
        ANTHROPIC_START,
        {"type": "content_block_start", "index": 0, "content_block": block},
        {"type": "content_block_delta", "index": 0, "delta": delta},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
        {"type": "message_stop"},
    ]
    stream = ResponsesToAnthropic(body).stream(body)
    out = b"".join(stream.feed(_anthropic_events(events)) + stream.finish())
    assert b"function_call" not in out
    assert stream.text == ['{"a": "x"}'] and stream.response["status"] == "completed"


def test_a_schema_beside_the_requests_own_tools_is_asked_by_instruction() -> None:
    # Forcing the structured tool would keep Claude from calling the request's tools.
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}}
    body = {"model": "pub", "input": "hi", "tools": [tool], "text": {"format": SCHEMA_FORMAT}}
    call = ResponsesToAnthropic(body).prepare(
        body, DEPLOYMENT, provider("anthropic", "http://a"), "k"
    )
    sent = orjson.loads(call.body)
    assert [t["name"] for t in sent["tools"]] == ["f"] and "tool_choice" not in sent
    assert "JSON" in sent["system"]


def test_chat_translation_streams_with_usage() -> None:
    body = {"model": "pub", "input": "hi", "stream": True}
    adapter = ResponsesToChat(body)
    call = adapter.prepare(body, DEPLOYMENT, provider("openai", "http://x/v1"), None)
    assert call.url == "http://x/v1/chat/completions"
    assert orjson.loads(call.body)["stream_options"] == {"include_usage": True}
    chunks = [
        {"id": "c", "model": "up", "choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {"id": "c", "model": "up", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}},
    ]
    raw = b"".join(encode_event(orjson.dumps(c)) for c in chunks) + b"data: [DONE]\n\n"
    stream = adapter.stream(body)
    out = b"".join(stream.feed(raw) + stream.finish())
    assert out.startswith(b"event: response.created\n")
    assert b"event: response.completed\n" in out
    assert stream.text == ["Hi"] and stream.response["status"] == "completed"
    assert stream.usage is not None and stream.usage.prompt_tokens == 5


def test_passthrough_stream_cut_before_its_end_fails() -> None:
    created = {"type": "response.created", "response": {"id": "resp_9"}}
    stream = ResponsesPassthrough().stream({})
    raw = encode_event(orjson.dumps(created), "response.created")
    assert stream.feed(raw + b"event: response.output_text.delta\ndata: {") == [raw]
    with pytest.raises(UpstreamFailed):
        stream.finish()


def test_an_upstreams_error_event_keeps_its_type_on_the_translated_streams() -> None:
    body = {"model": "pub", "input": "hi", "stream": True}
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    stream = ResponsesToAnthropic(body).stream(body)
    with pytest.raises(UpstreamStreamError) as caught:
        stream.feed(encode_event(orjson.dumps(overloaded), "error"))
    assert (caught.value.type, caught.value.code) == ("overloaded_error", "overloaded")
    # llama.cpp server's `error:` line, then its usual `[DONE]`: no quiet success.
    crash = {"code": 500, "message": "llama_decode failed", "type": "server_error"}
    chat = ResponsesToChat(body).stream(body)
    with pytest.raises(UpstreamStreamError) as crashed:
        chat.feed(b"error: " + orjson.dumps(crash) + b"\n\ndata: [DONE]\n\n")
    assert crashed.value.message == "upstream stream error: llama_decode failed"


def _anthropic_events(events: list[dict[str, Any]]) -> bytes:
    return b"".join(encode_event(orjson.dumps(e), str(e["type"])) for e in events)


ANTHROPIC_START: dict[str, Any] = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "up-model",
        "content": [],
        "usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 600,
            "cache_read_input_tokens": 300,
            "output_tokens": 1,
        },
    },
}
ANTHROPIC_TEXT: list[dict[str, Any]] = [
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
]


def test_anthropic_stream_keeps_its_cache_writes_for_the_price() -> None:
    # The writes cost 1.25 x input: lost in the chat form's usage, they were priced as input.
    body = {"model": "pub", "input": "hi", "stream": True}
    stream = ResponsesToAnthropic(body).stream(body)
    end: list[dict[str, Any]] = [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 7},
        },
        {"type": "message_stop"},
    ]
    stream.feed(_anthropic_events([ANTHROPIC_START, *ANTHROPIC_TEXT, *end]))
    stream.finish()
    assert stream.usage is not None
    usage = stream.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (910, 7)
    assert (usage.cached_tokens, usage.cache_write_tokens) == (300, 600)


def test_anthropic_stream_cut_short_keeps_the_counts_reported_so_far() -> None:
    body = {"model": "pub", "input": "hi", "stream": True}
    stream = ResponsesToAnthropic(body).stream(body)
    stream.feed(_anthropic_events([ANTHROPIC_START, *ANTHROPIC_TEXT]))
    with pytest.raises(UpstreamFailed):
        stream.finish()
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.cache_write_tokens) == (910, 600)


def test_an_empty_usage_reports_nothing_so_the_gateway_estimates() -> None:
    # `"usage": {}` (some compatible servers send it) is not a count of zero tokens, which
    # would record and bill the answer as free.
    answer = {"id": "resp_1", "object": "response", "status": "completed", "usage": {}}
    _, usage, _ = ResponsesPassthrough().convert_json(orjson.dumps(answer))
    assert not usage.reported
    done = {"type": "response.completed", "response": {**answer, "usage": {}}}
    stream = ResponsesPassthrough().stream({})
    stream.feed(encode_event(orjson.dumps(done), "response.completed"))
    assert stream.usage is None


def test_a_passthrough_stream_tells_all_the_model_wrote() -> None:
    # A stream cut while the model writes a function call's arguments has relayed no text; the
    # estimate of what it is billed counts the arguments (and reasoning summaries, refusals).
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "resp_9"}},
        {"type": "response.reasoning_summary_text.delta", "delta": "Look it up. "},
        {"type": "response.output_text.delta", "delta": "Checking. "},
        {"type": "response.function_call_arguments.delta", "delta": '{"city": "Paris"}'},
    ]
    stream = ResponsesPassthrough().stream({})
    stream.feed(b"".join(encode_event(orjson.dumps(e), e["type"]) for e in events))
    assert stream.text == ["Checking. "]
    # For counting: the text after the rest.
    assert stream.written_text() == 'Look it up. {"city": "Paris"}Checking. '
