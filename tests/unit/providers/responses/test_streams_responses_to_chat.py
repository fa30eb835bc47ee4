"""Responses API stream events -> chat completion chunks (a deployment with api = "responses")."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.errors import GatewayError
from gateway.providers.responses.streams_responses_to_chat import ResponsesToChatStream
from gateway.sse import encode_event

USAGE = {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
CREATED: dict[str, Any] = {
    "type": "response.created",
    "response": {"id": "resp_1", "model": "m", "created_at": 3},
}


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(encode_event(orjson.dumps(e), e["type"]) for e in events)


def chunks(out: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(piece[6:]) for piece in out if piece != b"data: [DONE]\n\n"]


def completed(**response: Any) -> dict[str, Any]:
    return {"type": "response.completed", "response": {"status": "completed", **response}}


@pytest.mark.parametrize("include_usage", [False, True])
def test_text_then_the_finish_and_the_usage_asked_for(include_usage: bool) -> None:
    stream = ResponsesToChatStream(include_usage)
    events: list[dict[str, Any]] = [
        CREATED,
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message"}},
        {"type": "response.reasoning_text.delta", "output_index": 0, "delta": "hidden"},
        {"type": "response.output_text.delta", "output_index": 0, "delta": "Hel"},
        {"type": "response.output_text.delta", "output_index": 0, "delta": "lo"},
        completed(usage=USAGE),
    ]
    raw = sse(events)
    out = stream.feed(raw[:50]) + stream.feed(raw[50:])
    done = stream.finish()
    assert done == [b"data: [DONE]\n\n"]
    parsed = chunks(out)
    assert parsed[0]["id"] == "chatcmpl-resp_1" and parsed[0]["object"] == "chat.completion.chunk"
    assert [c["choices"][0]["delta"] for c in parsed[:3]] == [
        {"role": "assistant", "content": ""},
        {"content": "Hel"},
        {"content": "lo"},
    ]
    assert parsed[3]["choices"][0]["finish_reason"] == "stop"
    assert stream.text == ["Hel", "lo"]
    assert stream.usage is not None and stream.usage.completion_tokens == 2
    if include_usage:
        assert parsed[4]["choices"] == [] and parsed[4]["usage"]["prompt_tokens"] == 5
    else:
        assert len(parsed) == 4


def test_tool_calls_get_chat_indexes_and_argument_deltas() -> None:
    stream = ResponsesToChatStream(False)
    function = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": ""}
    custom = {"type": "custom_tool_call", "call_id": "c2", "name": "p", "input": ""}
    events: list[dict[str, Any]] = [
        CREATED,
        {"type": "response.output_item.added", "output_index": 1, "item": function},
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": '{"a":'},
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "1}"},
        {"type": "response.output_item.added", "output_index": 2, "item": custom},
        {"type": "response.custom_tool_call_input.delta", "output_index": 2, "delta": "P"},
        completed(usage=USAGE),
    ]
    parsed = chunks(stream.feed(sse(events)))
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in parsed[1:6]]
    assert calls == [
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"a":'}},
        {"index": 0, "function": {"arguments": "1}"}},
        {"index": 1, "id": "c2", "type": "custom", "custom": {"name": "p", "input": ""}},
        {"index": 1, "custom": {"input": "P"}},
    ]
    assert parsed[6]["choices"][0]["finish_reason"] == "tool_calls"
    assert stream.written_text() == '{"a":1}P'


def test_an_answer_cut_at_max_output_tokens_finishes_for_length() -> None:
    stream = ResponsesToChatStream(False)
    cut = {
        "type": "response.incomplete",
        "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}},
    }
    parsed = chunks(stream.feed(sse([CREATED, cut])))
    assert parsed[-1]["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize(
    "last",
    [
        {"type": "response.failed", "response": {"status": "failed", "error": {"code": "x"}}},
        {"type": "error", "code": "server_error", "message": "boom"},
    ],
)
def test_a_failure_ends_the_stream_with_the_upstreams_error(last: dict[str, Any]) -> None:
    stream = ResponsesToChatStream(False)
    text = {"type": "response.output_text.delta", "output_index": 0, "delta": "Hi"}
    with pytest.raises(GatewayError) as failed:
        stream.feed(sse([CREATED, text, last]))
    assert len(failed.value.pending) == 2  # the chunks before it are still the client's


def test_a_stream_without_its_final_event_was_cut_short() -> None:
    stream = ResponsesToChatStream(False)
    stream.feed(sse([CREATED]))
    with pytest.raises(GatewayError):
        stream.finish()
