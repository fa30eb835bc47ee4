"""Responses streams (passed through, or translated from a chat or an Anthropic upstream) that
carry an error event in the same read as content events before it: the error carries the
client's events made of those (`pending`), for the responder to send before its error event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from gateway.errors import GatewayError, UpstreamStreamError
from gateway.providers.base import StreamConverter
from gateway.providers.responses.adapters import (
    ResponsesPassthrough,
    ResponsesToAnthropic,
    ResponsesToChat,
)
from gateway.sse import SSEDecoder, encode_event

BODY: dict[str, Any] = {"model": "pub", "input": "hi", "stream": True}


def sse(events: Sequence[dict[str, Any]], named: bool = True) -> bytes:
    return b"".join(
        encode_event(orjson.dumps(e), str(e["type"]) if named else None) for e in events
    )


def failure(converter: StreamConverter, data: bytes) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        converter.feed(data)
    assert isinstance(caught.value, UpstreamStreamError)
    return caught.value


def deltas(pieces: Sequence[bytes]) -> str:
    events = SSEDecoder().feed(b"".join(pieces))
    parsed = [orjson.loads(e.data) for e in events]
    return "".join(e["delta"] for e in parsed if e["type"] == "response.output_text.delta")


def test_a_passed_through_stream_hands_back_the_events_before_its_error() -> None:
    created = {"type": "response.created", "response": {"id": "resp_1"}}
    before = sse([created, {"type": "response.output_text.delta", "delta": "Hel"}])
    error = {"type": "error", "code": "server_error", "message": "boom", "param": None}
    caught = failure(ResponsesPassthrough().stream({}), before + sse([error]))
    assert b"".join(caught.pending) == before


def test_a_chat_stream_translated_for_a_responses_client_hands_back_its_events() -> None:
    def chunk(content: str) -> dict[str, Any]:
        return {"id": "c", "model": "up", "choices": [{"index": 0, "delta": {"content": content}}]}

    failed = {"error": {"message": "boom", "type": "server_error"}}
    raw = sse([chunk("Hel"), chunk("lo"), failed], named=False)
    caught = failure(ResponsesToChat(BODY).stream(BODY), raw)
    assert deltas(caught.pending) == "Hello"


def test_an_anthropic_stream_translated_for_a_responses_client_hands_back_its_events() -> None:
    start = {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "c", "role": "assistant", "content": []},
    }
    empty = {"type": "text", "text": ""}
    block = {"type": "content_block_start", "index": 0, "content_block": empty}
    delta = {"type": "content_block_delta", "index": 0}
    text = [{**delta, "delta": {"type": "text_delta", "text": t}} for t in ("Hel", "lo")]
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    raw = sse([start, block, *text, overloaded])
    caught = failure(ResponsesToAnthropic(BODY).stream(BODY), raw)
    assert deltas(caught.pending) == "Hello"
