"""Claude's thinking blocks for a Responses client that asks for the encrypted reasoning: one
`reasoning` item each (JSON and streamed), the block as its `encrypted_content`, read back from
the next input onto the assistant message after it, for a Claude upstream only."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gateway.providers.anthropic.carried_thinking import (
    FORMAT,
    as_encrypted_content,
    entry_of_encrypted_content,
)
from gateway.providers.responses.requests_responses_to_chat import responses_request_to_chat
from gateway.providers.responses.responses_chat_to_responses import chat_response_to_responses
from gateway.providers.responses.streams_chat_to_responses import ChatToResponsesStream

JSON = dict[str, Any]
ENTRY = {
    "type": "reasoning.text",
    "text": "Look it up.",
    "signature": "gw1-ab~c2ln",
    "format": FORMAT,
}
REDACTED = {"type": "reasoning.encrypted", "data": "gw1-ab~ZW5j", "format": FORMAT}
ASKS = {"model": "m", "input": "hi", "include": ["reasoning.encrypted_content"]}
CALL = {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def chat(message: JSON) -> JSON:
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
    return {"id": "c", "model": "m", "choices": [choice]}


def test_each_block_is_an_item_when_asked_and_only_then() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Look it up.",
        "reasoning_details": [{**ENTRY, "index": 0}, {**REDACTED, "index": 1}],
        "tool_calls": [CALL],
    }
    output = chat_response_to_responses(chat(message), ASKS, "resp_1")["output"]
    assert [item["type"] for item in output] == ["reasoning", "reasoning", "function_call"]
    assert output[0]["content"] == [{"type": "reasoning_text", "text": "Look it up."}]
    assert "content" not in output[1]
    assert [entry_of_encrypted_content(i["encrypted_content"]) for i in output[:2]] == [
        ENTRY,
        REDACTED,
    ]
    plain = chat_response_to_responses(chat(message), {"model": "m", "input": "hi"}, "resp_1")
    [thought, _] = plain["output"]  # the text as before, nothing encrypted
    assert thought["content"][0]["text"] == "Look it up." and "encrypted_content" not in thought


def test_the_stream_closes_the_blocks_item_with_it() -> None:
    stream = ChatToResponsesStream(ASKS, "resp_1")

    def chunk(delta: JSON) -> JSON:
        return {"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta}]}

    events = stream.feed(chunk({"role": "assistant", "reasoning_content": "Look it up."}))
    events += stream.feed(chunk({"reasoning_details": [{**ENTRY, "index": 0}]}))
    events += stream.feed(chunk({"reasoning_details": [{**REDACTED, "index": 1}]}))
    events += stream.finish()
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [entry_of_encrypted_content(item["encrypted_content"]) for item in done] == [
        ENTRY,
        REDACTED,
    ]
    assert done[0]["content"][0]["text"] == "Look it up."
    assert stream.response["output"] == done


def returned(encrypted: str) -> JSON:
    return {
        "model": "m",
        "input": [
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "summary": [], "encrypted_content": encrypted},
            {"type": "function_call", "call_id": "toolu_1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"},
        ],
    }


def test_the_next_input_gives_the_entry_back_to_a_claude_upstream_only() -> None:
    body = returned(as_encrypted_content({**ENTRY, "index": 3}))
    to_claude = responses_request_to_chat(body, "claude", carried=True)["messages"][1]
    assert to_claude["reasoning_details"] == [{**ENTRY, "index": 0}]
    to_chat = responses_request_to_chat(body, "gpt")["messages"][1]
    assert "reasoning_details" not in to_chat


@pytest.mark.parametrize(
    "encrypted",
    [
        "gAAAAB-openais-own",
        f"{FORMAT}:not base64!",
        f"{FORMAT}:" + base64.urlsafe_b64encode(b"[1, 2]").decode(),
        f"{FORMAT}:" + base64.urlsafe_b64encode(b'{"format": "other"}').decode(),
        f"{FORMAT}:" + base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_other_or_unreadable_encrypted_content_is_left_out(encrypted: str) -> None:
    assert entry_of_encrypted_content(encrypted) is None
    to_claude = responses_request_to_chat(returned(encrypted), "claude", carried=True)
    assert "reasoning_details" not in to_claude["messages"][1]
