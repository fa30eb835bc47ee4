"""Upstream answers checked at the edge: usage counts, the answer's lists, a stream's end, and
any other failure of a translator as `upstream_malformed`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.config.types import ProviderConfig
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
