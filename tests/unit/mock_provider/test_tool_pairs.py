"""The mock refuses tool calls and results out of pair, in OpenAI's and Anthropic's words."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.mock_provider.behaviour import RequestError
from gateway.mock_provider.tool_pairs import (
    check_anthropic_tool_pairs,
    check_openai_tool_pairs,
    check_server_tool_blocks,
)

CALL = {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}, {"id": "c2"}]}


def _tool(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "ok"}


def test_openai_pairs() -> None:
    user = {"role": "user", "content": "hi"}
    check_openai_tool_pairs([user, CALL, _tool("c2"), _tool("c1"), user])
    with pytest.raises(RequestError, match="did not have response messages: c2") as missing:
        check_openai_tool_pairs([user, CALL, _tool("c1"), user])
    assert missing.value.param == "messages.[1].role"
    with pytest.raises(RequestError, match="must be a response to a preceeding message"):
        check_openai_tool_pairs([user, _tool("c9")])
    with pytest.raises(RequestError, match="did not have response messages: c1, c2"):
        check_openai_tool_pairs([user, CALL])


def test_anthropic_pairs() -> None:
    use = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f"}]}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]}
    user = {"role": "user", "content": "hi"}
    check_anthropic_tool_pairs([user, use, result])
    check_anthropic_tool_pairs([user, use])  # its results come with the next request
    with pytest.raises(RequestError, match="without `tool_result` blocks immediately after: t1"):
        check_anthropic_tool_pairs([user, use, user])
    with pytest.raises(RequestError, match="unexpected `tool_use_id` found"):
        check_anthropic_tool_pairs([user, result])


USER = {"role": "user", "content": "news?"}
USE = {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"query": "q"}}
RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "s1",
    "content": [
        {"type": "web_search_result", "url": "https://a.example", "encrypted_content": "e"}
    ],
}


def _said(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def test_server_tool_blocks_as_claude_sent_them_pass() -> None:
    check_server_tool_blocks([USER, _said(USE, RESULT, {"type": "text", "text": "A."}), USER])
    check_server_tool_blocks([USER, _said({"type": "text", "text": "Let me."}, USE)])  # paused
    failed = {**RESULT, "content": {"type": "web_search_tool_result_error", "error_code": "x"}}
    check_server_tool_blocks([USER, _said(USE, failed), USER])


@pytest.mark.parametrize(
    ("messages", "words"),
    [
        ([USER, _said(USE), USER], "web_search tool use with id s1 was found without"),
        ([USER, _said(USE, {"type": "text", "text": "A."})], "without a corresponding"),
        ([USER, _said({**USE, "input": {}}, RESULT)], "messages.1.content.0.input.query"),
        (
            [USER, _said(USE, {**RESULT, "content": [{"type": "web_search_result"}]})],
            "messages.1.content.1.content.0.encrypted_content: Field required",
        ),
    ],
)
def test_server_tool_blocks_not_as_claude_sent_them_are_refused(
    messages: list[Any], words: str
) -> None:
    with pytest.raises(RequestError, match=words):
        check_server_tool_blocks(messages)
