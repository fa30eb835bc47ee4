"""An OpenAI stream relay that fails part-way through a chunk (an error event, a malformed
event after content events): the error carries the events before it (`pending`), as sent."""

from __future__ import annotations

import orjson
import pytest

from gateway.errors import GatewayError, UpstreamFailed, UpstreamStreamError
from gateway.providers.openai_streams import (
    OpenAICompletionStreamPassthrough,
    OpenAIStreamPassthrough,
)


def chunk(content: str) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": None}
    return b"data: " + orjson.dumps({"id": "c1", "choices": [choice]}) + b"\n\n"


USAGE = b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n'
ERROR = b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n'


def failure(relay: OpenAIStreamPassthrough, data: bytes) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        relay.feed(data)
    return caught.value


def test_the_content_before_an_error_chunk_in_the_same_read_is_handed_back() -> None:
    relay = OpenAIStreamPassthrough(client_wants_usage=True)
    error = failure(relay, chunk("Hel") + chunk("lo") + ERROR)
    assert isinstance(error, UpstreamStreamError)
    assert b"".join(error.pending) == chunk("Hel") + chunk("lo")
    assert relay.text == ["Hel", "lo"]


def test_the_usage_chunk_the_client_did_not_ask_for_stays_dropped() -> None:
    relay = OpenAIStreamPassthrough(client_wants_usage=False)
    error = failure(relay, chunk("Hi") + USAGE + ERROR)
    assert b"".join(error.pending) == chunk("Hi")


def test_an_error_first_in_its_read_hands_back_nothing() -> None:
    relay = OpenAIStreamPassthrough(client_wants_usage=True)
    assert relay.feed(chunk("Hi")) == [chunk("Hi")]
    assert list(failure(relay, ERROR + chunk("never")).pending) == []


def test_a_malformed_event_after_content_hands_back_the_content() -> None:
    relay = OpenAIStreamPassthrough(client_wants_usage=True)
    error = failure(relay, chunk("Hi") + b"data: {not json\n\n")
    assert isinstance(error, UpstreamFailed) and error.code == "upstream_malformed"
    assert b"".join(error.pending) == chunk("Hi")


def test_events_of_any_shape_before_an_error_event_are_handed_back() -> None:
    # A comment makes the read take the general path (`_relay_any`); llama.cpp's `error:` line.
    relay = OpenAIStreamPassthrough(client_wants_usage=True)
    read = b": keep-alive\n\n" + chunk("Hi") + b'error: {"code": 500, "message": "oom"}\n\n'
    error = failure(relay, read)
    assert isinstance(error, UpstreamStreamError)
    assert b"".join(error.pending) == b": keep-alive\n\n" + chunk("Hi")


def test_a_legacy_completion_stream_hands_back_its_text_too() -> None:
    relay = OpenAICompletionStreamPassthrough(client_wants_usage=True)
    text = b'data: {"id":"c1","choices":[{"index":0,"text":"Hi","finish_reason":null}]}\n\n'
    error = failure(relay, text + ERROR)
    assert b"".join(error.pending) == text
