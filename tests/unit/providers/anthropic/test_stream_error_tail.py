"""Anthropic streams (passed through, or translated either way) that carry an error event in
the same read as content events before it: the error carries the client's events made of
those (`pending`), for the responder to send before its error event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from gateway.errors import GatewayError, UpstreamStreamError
from gateway.providers.anthropic.adapters import AnthropicMessagesAdapter, OpenAIClientToAnthropic
from gateway.providers.anthropic.client_to_openai import AnthropicClientToOpenAI
from gateway.providers.base import StreamConverter
from gateway.sse import SSEDecoder, encode_event

BODY: dict[str, Any] = {
    "model": "m",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}
START = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "c",
                "role": "assistant",
                "content": [],
                "usage": {"input_tokens": 3, "output_tokens": 0},
            },
        },
    ),  # noqa: E501
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),  # noqa: E501
]
OVERLOADED = ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})


def sse(events: Sequence[tuple[str | None, object]]) -> bytes:
    return b"".join(encode_event(orjson.dumps(data), name) for name, data in events)


def text_delta(text: str) -> tuple[str, dict[str, Any]]:
    delta = {"type": "text_delta", "text": text}
    return "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}


def openai_chunk(content: str) -> tuple[None, dict[str, Any]]:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": None}
    return None, {"id": "c1", "model": "gpt", "choices": [choice]}


def failure(converter: StreamConverter, data: bytes) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        converter.feed(data)
    assert isinstance(caught.value, UpstreamStreamError)
    return caught.value


def texts(pieces: Sequence[bytes]) -> str:
    """The text the client's events carry, in either format."""
    text = ""
    for event in SSEDecoder().feed(b"".join(pieces)):
        data = orjson.loads(event.data)
        if data.get("type") == "content_block_delta":
            text += data["delta"]["text"]
        for choice in data.get("choices") or ():
            text += choice["delta"].get("content") or ""
    return text


def test_a_passed_through_stream_hands_back_the_events_before_its_error() -> None:
    converter = AnthropicMessagesAdapter().stream(BODY)
    before = sse([*START, text_delta("Hel"), text_delta("lo")])
    error = failure(converter, before + sse([OVERLOADED]))
    assert b"".join(error.pending) == before
    assert isinstance(error, UpstreamStreamError) and error.rate_limited


def test_an_anthropic_stream_translated_for_an_openai_client_hands_back_its_chunks() -> None:
    converter = OpenAIClientToAnthropic().stream(BODY)
    error = failure(converter, sse([*START, text_delta("Hel"), text_delta("lo"), OVERLOADED]))
    assert texts(error.pending) == "Hello"


def test_an_openai_stream_translated_for_an_anthropic_client_hands_back_its_events() -> None:
    converter = AnthropicClientToOpenAI().stream(BODY)
    failed = (None, {"error": {"message": "boom", "type": "server_error"}})
    error = failure(converter, sse([openai_chunk("Hel"), openai_chunk("lo"), failed]))
    assert texts(error.pending) == "Hello"
