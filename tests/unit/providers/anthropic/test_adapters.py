"""The cross-format adapters: the JSON and the stream path of a pair report the same usage and
the same `model` (the upstream's name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.providers.anthropic.adapters import OpenAIClientToAnthropic
from gateway.providers.anthropic.client_to_openai import AnthropicClientToOpenAI
from gateway.sse import SSEDecoder, encode_event

OPENAI_USAGE = {
    "prompt_tokens": 20,
    "completion_tokens": 50,
    "total_tokens": 70,
    "completion_tokens_details": {"reasoning_tokens": 40},
}
ANTHROPIC_USAGE = {
    "input_tokens": 5,
    "output_tokens": 7,
    "cache_read_input_tokens": 100,
    "cache_creation_input_tokens": 20,
}
CLIENT_BODY: dict[str, Any] = {
    "model": "public-name",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}


def sse(events: Sequence[tuple[str | None, object]]) -> bytes:
    return b"".join(encode_event(orjson.dumps(data), name) for name, data in events)


def client_events(pieces: list[bytes]) -> list[dict[str, Any]]:
    events = SSEDecoder().feed(b"".join(pieces))
    return [orjson.loads(e.data) for e in events if e.data != b"[DONE]"]


def openai_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c1", "object": "chat.completion.chunk", "model": "o3-2025", "choices": [choice]}


def test_reasoning_tokens_survive_on_messages_streams_as_on_json() -> None:
    adapter = AnthropicClientToOpenAI()
    answer = {
        "id": "c1",
        "object": "chat.completion",
        "model": "o3-2025",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
        "usage": OPENAI_USAGE,
    }
    body, json_usage, parsed = adapter.convert_json(orjson.dumps(answer))
    stream = adapter.stream(CLIENT_BODY)
    usage_chunk = {"id": "c1", "model": "o3-2025", "choices": [], "usage": OPENAI_USAGE}
    upstream = [
        (None, openai_chunk({"role": "assistant", "content": "Hi"})),
        (None, openai_chunk({}, "stop")),
        (None, usage_chunk),
    ]
    out = stream.feed(sse(upstream)) + stream.finish()
    assert json_usage.reasoning_tokens == 40
    assert stream.usage == json_usage
    started = client_events(out)[0]
    assert started["type"] == "message_start"
    assert started["message"]["model"] == parsed["model"] == "o3-2025"


def test_cache_writes_survive_on_translated_openai_streams_as_on_json() -> None:
    adapter = OpenAIClientToAnthropic()
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-upstream",
        "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "end_turn",
        "usage": ANTHROPIC_USAGE,
    }
    _, json_usage, parsed = adapter.convert_json(orjson.dumps(message))
    stream = adapter.stream({**CLIENT_BODY, "stream_options": {"include_usage": True}})
    start = {**message, "content": [], "stop_reason": None, "usage": ANTHROPIC_USAGE}
    upstream = [
        ("message_start", {"type": "message_start", "message": start}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    out = stream.feed(sse(upstream)) + stream.finish()
    assert json_usage.cache_write_tokens == 20
    assert stream.usage == json_usage
    assert {chunk["model"] for chunk in client_events(out)} == {parsed["model"]}
    assert parsed["model"] == "claude-upstream"


def test_openais_own_api_gets_max_completion_tokens_other_servers_max_tokens() -> None:
    # OpenAI refuses `max_tokens` for o-series and gpt-5 models; vLLM & co. may not know the
    # newer name.
    adapter = AnthropicClientToOpenAI()
    deployment = DeploymentConfig("oai", "gpt-5")
    sent = {}
    for url in ("https://api.openai.com/v1", "http://vllm.internal:8000/v1"):
        provider = ProviderConfig("oai", "openai", base_url=url)
        sent[url] = orjson.loads(adapter.prepare(CLIENT_BODY, deployment, provider, "k").body)
    assert sent["https://api.openai.com/v1"]["max_completion_tokens"] == 100
    assert "max_tokens" not in sent["https://api.openai.com/v1"]
    assert sent["http://vllm.internal:8000/v1"]["max_tokens"] == 100
    assert "max_completion_tokens" not in sent["http://vllm.internal:8000/v1"]
