"""Why a stream ended, as its converter read it (`ReportsFinish`): Anthropic's `stop_reason`
passed through, the `finish_reason` Anthropic's stream became for an OpenAI client, a Responses
stream's final `status`; and which converters can say it, known once per class."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from gateway.providers.anthropic.adapters import (
    AnthropicStreamPassthrough,
    AnthropicToOpenAIStreamAdapter,
)
from gateway.providers.base import reports_finish
from gateway.providers.responses.stream_passthrough import ResponsesStreamPassthrough
from gateway.sse import encode_event


def _events(*events: Mapping[str, object]) -> bytes:
    return b"".join(encode_event(orjson.dumps(e)) for e in events)


START: Mapping[str, object] = {
    "type": "message_start",
    "message": {"id": "msg_1", "usage": {"input_tokens": 5}},
}
REFUSED: Mapping[str, object] = {
    "type": "message_delta",
    "delta": {"stop_reason": "refusal", "stop_details": {"type": "refusal", "category": "cyber"}},
    "usage": {"output_tokens": 0},
}


def test_anthropics_stop_reason_passed_through_and_translated() -> None:
    passed = AnthropicStreamPassthrough()
    assert reports_finish(passed) and passed.finish_reason is None
    passed.feed(_events(START, REFUSED, {"type": "message_stop"}))
    assert passed.finish_reason == "refusal"
    translated = AnthropicToOpenAIStreamAdapter("claude", include_usage=False)
    translated.feed(_events(START, REFUSED, {"type": "message_stop"}))
    assert reports_finish(translated) and translated.finish_reason == "content_filter"


def test_a_responses_streams_final_status() -> None:
    stream = ResponsesStreamPassthrough()
    assert stream.finish_reason is None
    final = {"type": "response.incomplete", "response": {"id": "r", "status": "incomplete"}}
    stream.feed(b"event: response.incomplete\ndata: " + orjson.dumps(final) + b"\n\n")
    assert reports_finish(stream) and stream.finish_reason == "incomplete"


def test_a_converter_without_one_reports_none() -> None:
    assert not reports_finish(object())
    assert not reports_finish(object())  # (the second time from what was learned of its class)


def test_an_upstreams_odd_events_are_passed_on_without_breaking_the_stream() -> None:
    """An Anthropic-compatible server that lies in its shapes (a `message` or a `delta` that is
    no object) is relayed, not a crash of the relay."""
    passed = AnthropicStreamPassthrough()
    odd: list[Mapping[str, object]] = [
        {"type": "message_start", "message": "x"},
        {"type": "content_block_delta", "delta": "y"},
        {"type": "message_delta", "delta": 7, "usage": {"output_tokens": 1}},
        {"type": "message_stop"},
    ]
    assert len(passed.feed(_events(*odd))) == 4
    assert passed.finish_reason is None and passed.ended
    assert passed.usage is not None and passed.usage.completion_tokens == 1
