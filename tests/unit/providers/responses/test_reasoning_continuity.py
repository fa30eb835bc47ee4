"""A reasoning model's encrypted reasoning through the Responses API bridge: asked for, carried
on the chat answer sealed with its deployment (`reasoning_details`), sent back as a `reasoning`
item to that deployment only."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.json_types import JSON
from gateway.providers.chat_reasoning import reasoning_origin, sealed, without_sealed_reasoning
from gateway.providers.responses.requests_chat_to_responses import chat_request_to_responses
from gateway.providers.responses.responses_responses_to_chat import responses_response_to_chat
from gateway.providers.responses.streams_responses_to_chat import ResponsesToChatStream
from gateway.sse import encode_event

ORIGIN = reasoning_origin("oai", "gpt-5.1-codex")
ELSEWHERE = reasoning_origin("azure", "gpt-5.1-codex")
REASONING = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [
        {"type": "summary_text", "text": "First I look."},
        {"type": "summary_text", "text": "Then I call."},
    ],
    "encrypted_content": "gAAAAB-secret",
}
CALL = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}


def test_a_reasoning_model_is_asked_for_its_encrypted_reasoning() -> None:
    ask: JSON = {"messages": [{"role": "user", "content": "Hi"}], "reasoning_effort": "high"}
    assert "include" not in chat_request_to_responses(ask, "gpt-4.1")
    reasoning = chat_request_to_responses(ask, "gpt-5.1-codex", keeps_reasoning=True)
    assert reasoning["include"] == ["reasoning.encrypted_content"]
    assert reasoning["reasoning"] == {"effort": "high"}
    summaries = chat_request_to_responses(ask, "m", keeps_reasoning=True, summaries=True)
    assert summaries["reasoning"] == {"effort": "high", "summary": "auto"}


def test_the_answer_carries_the_reasoning_sealed_with_its_deployment() -> None:
    answer = {"id": "resp_1", "model": "m", "status": "completed", "output": [REASONING, CALL]}
    message = responses_response_to_chat(answer, ORIGIN)["choices"][0]["message"]
    assert message["reasoning_content"] == "First I look.\n\nThen I call."
    assert message["reasoning_details"] == [
        {
            "type": "reasoning.encrypted",
            "data": sealed(ORIGIN, "gAAAAB-secret"),
            "format": "openai-responses-v1",
            "index": 0,
        }
    ]
    # Without an origin (none to send it back to), it is left out.
    assert "reasoning_details" not in responses_response_to_chat(answer)["choices"][0]["message"]


def test_the_reasoning_goes_back_to_the_deployment_that_made_it_only() -> None:
    kept: JSON = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f"}}],
        "reasoning_details": [
            {"type": "reasoning.encrypted", "data": sealed(ORIGIN, "gAAAAB-secret")},
            {"type": "reasoning.encrypted", "data": sealed(ELSEWHERE, "other")},
            {"type": "reasoning.encrypted", "data": "unsealed"},
            {"type": "reasoning.summary", "summary": "text"},
            {"type": "reasoning.encrypted", "data": sealed(ORIGIN, "x"), "format": "anthropic"},
        ],
    }
    body: JSON = {
        "messages": [
            {"role": "user", "content": "Hi"},
            kept,
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ]
    }
    items = chat_request_to_responses(body, "m", origin=ORIGIN)["input"]
    assert [item["type"] for item in items] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert items[1] == {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAB-secret"}
    elsewhere = chat_request_to_responses(body, "m", origin=ELSEWHERE)["input"]
    assert [i["encrypted_content"] for i in elsewhere if i["type"] == "reasoning"] == ["other"]
    assert all(i["type"] != "reasoning" for i in chat_request_to_responses(body, "m")["input"])


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(encode_event(orjson.dumps(e), e["type"]) for e in events)


def _deltas(out: list[bytes]) -> list[JSON]:
    chunks = [orjson.loads(piece[6:]) for piece in out if piece != b"data: [DONE]\n\n"]
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def test_a_streams_summary_and_encrypted_reasoning_are_chat_deltas() -> None:
    summary = {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "resp_1", "model": "m"}},
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning"}},
        {**summary, "summary_index": 0, "delta": "First "},
        {**summary, "summary_index": 0, "delta": "I look."},
        {**summary, "summary_index": 1, "delta": "Then I call."},
        {"type": "response.output_item.done", "output_index": 0, "item": REASONING},
        {"type": "response.completed", "response": {"status": "completed"}},
    ]
    stream = ResponsesToChatStream(False, ORIGIN)
    deltas = _deltas(stream.feed(_sse(events)))
    assert [d.get("reasoning_content") for d in deltas[1:4]] == [
        "First ",
        "I look.",
        "\n\nThen I call.",
    ]
    [detail] = deltas[4]["reasoning_details"]
    assert detail["data"] == sealed(ORIGIN, "gAAAAB-secret")
    assert stream.written_text() == "First I look.\n\nThen I call."
    # Without an origin the encrypted reasoning is left out; the summary still comes.
    plain = _deltas(ResponsesToChatStream(False).feed(_sse(events)))
    assert all("reasoning_details" not in d for d in plain)


def test_a_chat_upstream_is_sent_none_of_the_sealed_reasoning() -> None:
    openrouters = {"type": "reasoning.encrypted", "data": "theirs", "format": "openai-responses-v1"}
    ours = {"type": "reasoning.encrypted", "data": sealed(ORIGIN, "gAAAAB-secret")}
    messages: list[object] = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "a", "reasoning_details": [ours]},
        {"role": "assistant", "content": "b", "reasoning_details": [openrouters, ours]},
        {"role": "assistant", "content": "c", "reasoning_details": [openrouters]},
        "odd",
    ]
    body: JSON = {"messages": messages}
    upstream = dict(body)
    without_sealed_reasoning(upstream)
    assert upstream["messages"][1:] == [
        {"role": "assistant", "content": "a"},
        {"role": "assistant", "content": "b", "reasoning_details": [openrouters]},
        messages[3],
        "odd",
    ]
    assert body["messages"] is messages and messages[1] == {
        "role": "assistant",
        "content": "a",
        "reasoning_details": [ours],
    }
    plain: JSON = {"messages": [{"role": "user", "content": "Hi"}]}
    before = plain["messages"]
    without_sealed_reasoning(plain)
    assert plain["messages"] is before


def test_a_chat_upstream_is_sent_no_claude_thinking_block_the_gateway_carried() -> None:
    ours = {"type": "reasoning.text", "text": "t", "signature": sealed(ORIGIN, "c2ln")}
    theirs = {"type": "reasoning.text", "text": "t", "signature": "c2ln", "format": "x"}
    upstream: JSON = {"messages": [{"role": "assistant", "reasoning_details": [ours, theirs]}]}
    without_sealed_reasoning(upstream)
    assert upstream["messages"] == [{"role": "assistant", "reasoning_details": [theirs]}]
