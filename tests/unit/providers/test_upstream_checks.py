"""Upstream answers checked at the edge: usage counts, the answer's lists, a stream's end, and
any other failure of a translator as `upstream_malformed`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.errors import UpstreamFailed
from gateway.providers import adapter_for
from gateway.providers.base import MAX_TOKEN_COUNT, token_count

OPENAI = ProviderConfig(name="o", type="openai", base_url="http://o")
ANTHROPIC = ProviderConfig(name="a", type="anthropic", base_url="http://a")


@pytest.mark.parametrize(("value", "count"), [(None, 0), (0, 0), (12, 12), (7.0, 7)])
def test_whole_counts_are_taken(value: Any, count: int) -> None:
    assert token_count(value, "prompt_tokens") == count


@pytest.mark.parametrize(
    "value", [-1, MAX_TOKEN_COUNT, 10**30, 1e29, "12", 1.5, True, float("nan"), [1], {}]
)
def test_anything_else_is_malformed(value: Any) -> None:
    with pytest.raises(UpstreamFailed) as caught:
        token_count(value, "prompt_tokens")
    assert caught.value.code == "upstream_malformed"


def _openai_answer(**changes: Any) -> bytes:
    answer: dict[str, Any] = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    return json.dumps({**answer, **changes}).encode()


def _anthropic_answer(**changes: Any) -> bytes:
    answer: dict[str, Any] = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "hi"}],
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    return json.dumps({**answer, **changes}).encode()


@pytest.mark.parametrize(
    ("kind", "provider", "body"),
    [
        ("chat", OPENAI, _openai_answer(choices=None)),
        ("chat", OPENAI, _openai_answer(choices=[1])),
        ("chat", OPENAI, _openai_answer(usage={"prompt_tokens": "12"})),
        ("chat", OPENAI, _openai_answer(usage={"prompt_tokens": -3})),
        ("messages", OPENAI, _openai_answer(choices=None)),
        ("messages", OPENAI, _openai_answer(usage={"completion_tokens": 10**30})),
        ("embeddings", OPENAI, json.dumps({"data": None}).encode()),
        ("messages", ANTHROPIC, _anthropic_answer(content=None)),
        ("chat", ANTHROPIC, _anthropic_answer(content="text")),
        ("chat", ANTHROPIC, _anthropic_answer(usage={"input_tokens": -1})),
        ("messages", ANTHROPIC, _anthropic_answer(usage={"input_tokens": -50})),
        ("messages", ANTHROPIC, _anthropic_answer(usage={"cache_read_input_tokens": "9"})),
        ("chat", ANTHROPIC, _anthropic_answer(content=[1])),
    ],
)
def test_malformed_answers_are_upstream_malformed(
    kind: Any, provider: ProviderConfig, body: bytes
) -> None:
    with pytest.raises(UpstreamFailed) as caught:
        adapter_for(kind, provider).convert_json(body)
    assert caught.value.code == "upstream_malformed"


def _sse(*events: Any) -> bytes:
    out = b""
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        out += b"data: " + data.encode() + b"\n\n"
    return out


CHUNK = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
LAST = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
# n = 2: the second choice ends first, in a chunk that is not the last.
SECOND_ENDS = {
    "choices": [{"index": 0, "delta": {}}, {"index": 1, "delta": {}, "finish_reason": "stop"}]
}
STARTS = [
    {"type": "message_start", "message": {"usage": {"input_tokens": 1, "output_tokens": 0}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
]
STOP = {"type": "message_stop"}


def _run(kind: Any, provider: ProviderConfig, data: bytes) -> bytes:
    converter = adapter_for(kind, provider).stream({"model": "m", "messages": []})
    return b"".join(converter.feed(data)) + b"".join(converter.finish())


@pytest.mark.parametrize(
    ("kind", "provider", "complete", "cut"),
    [
        ("chat", OPENAI, _sse(CHUNK, LAST), _sse(CHUNK)),
        ("chat", OPENAI, _sse(CHUNK, "[DONE]"), _sse(CHUNK)),
        ("chat", OPENAI, _sse(CHUNK, SECOND_ENDS, CHUNK), _sse(CHUNK, CHUNK)),
        ("messages", OPENAI, _sse(CHUNK, LAST), _sse(CHUNK)),
        ("messages", ANTHROPIC, _sse(*STARTS, STOP), _sse(*STARTS)),
        ("chat", ANTHROPIC, _sse(*STARTS, STOP), _sse(*STARTS)),
    ],
)
def test_a_stream_without_its_end_fails(
    kind: Any, provider: ProviderConfig, complete: bytes, cut: bytes
) -> None:
    assert _run(kind, provider, complete)
    with pytest.raises(UpstreamFailed) as caught:
        _run(kind, provider, cut)
    assert caught.value.code == "stream_interrupted"


@pytest.mark.parametrize(
    ("kind", "provider", "data"),
    [
        ("chat", OPENAI, _sse(CHUNK, {"error": {"message": "boom"}})),
        ("messages", OPENAI, _sse(CHUNK, {"error": {"message": "boom"}})),
        ("messages", ANTHROPIC, _sse(*STARTS, {"type": "error", "error": {"message": "boom"}})),
        ("chat", ANTHROPIC, _sse(*STARTS, {"type": "error", "error": {"message": "boom"}})),
    ],
)
def test_an_error_event_fails_the_stream(kind: Any, provider: ProviderConfig, data: bytes) -> None:
    with pytest.raises(UpstreamFailed, match="boom"):
        _run(kind, provider, data)


@pytest.mark.parametrize(
    ("kind", "provider", "data"),
    [
        ("chat", OPENAI, _sse({"choices": {"0": {}}})),
        ("chat", OPENAI, _sse({"choices": [], "usage": {"prompt_tokens": 10**30}})),
        ("messages", OPENAI, _sse({"choices": [{"delta": {"tool_calls": [7]}}]})),
        ("messages", ANTHROPIC, _sse({"type": "message_delta", "usage": {"output_tokens": -2}})),
        (
            "chat",
            ANTHROPIC,
            _sse(
                {"type": "content_block_start", "index": "x", "content_block": {"type": "tool_use"}}
            ),
        ),
    ],
)
def test_malformed_stream_events_are_upstream_malformed(
    kind: Any, provider: ProviderConfig, data: bytes
) -> None:
    with pytest.raises(UpstreamFailed) as caught:
        _run(kind, provider, data)
    assert caught.value.code == "upstream_malformed"


HOSTILE_USAGE = [
    {"input_tokens": -50},
    {"cache_read_input_tokens": "9"},
    {"cache_creation_input_tokens": 10**30},
    {"output_tokens": 2, "input_tokens": 2**53},
]


@pytest.mark.parametrize("kind", ["messages", "chat"])
@pytest.mark.parametrize("usage", HOSTILE_USAGE)
@pytest.mark.parametrize("event", ["message_start", "message_delta"])
def test_every_usage_count_of_an_anthropic_stream_is_checked(
    kind: Any, usage: dict[str, Any], event: str
) -> None:
    """On both routes (passed through to /v1/messages, translated to /v1/chat/completions), in
    either event that carries usage: refused before the event reaches the client."""
    start = {"type": "message_start", "message": {"usage": {"input_tokens": 1}}}
    if event == "message_start":
        start = {"type": "message_start", "message": {"usage": usage}}
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
    if event == "message_delta":
        delta = {**delta, "usage": usage}
    converter = adapter_for(kind, ANTHROPIC).stream({"model": "m", "messages": []})
    passed: list[bytes] = []
    with pytest.raises(UpstreamFailed) as caught:
        for one in (start, *STARTS[1:], delta, STOP):
            passed += converter.feed(_sse(one))
    assert caught.value.code == "upstream_malformed"
    assert not any(event.encode() in chunk for chunk in passed)  # nor the refused event


def test_a_passed_through_stream_records_the_cumulative_usage_of_message_delta() -> None:
    """`message_delta` counts replace those of `message_start`, as on the translated route."""
    start = {"type": "message_start", "message": {"usage": {"input_tokens": 1}}}
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"input_tokens": 7, "cache_read_input_tokens": 3, "output_tokens": 2},
    }
    usages = []
    for kind in ("messages", "chat"):
        converter = adapter_for(kind, ANTHROPIC).stream({"model": "m", "messages": []})
        converter.feed(_sse(start, *STARTS[1:], delta, STOP))
        converter.finish()
        usages.append(converter.usage)
    assert usages[0] == usages[1]
    assert usages[0] is not None
    assert (usages[0].prompt_tokens, usages[0].cached_tokens) == (10, 3)
    assert usages[0].completion_tokens == 2
