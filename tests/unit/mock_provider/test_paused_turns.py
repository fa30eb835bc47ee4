"""The mock's paused turns: a search's turn asked to pause is Claude's `pause_turn` answer,
JSON and streamed, until the continuations sent back hold as many searches."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.mock_provider import render
from gateway.mock_provider.behaviour import plan_messages
from gateway.mock_provider.paused_turns import (
    PAUSED_TEXT,
    paused_blocks,
    searches_done,
    wanted_pauses,
)

SEARCH = {"type": "web_search_20250305", "name": "web_search"}


def _asked(question: str, *said: list[dict[str, Any]]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    messages += [{"role": "assistant", "content": content} for content in said]
    return {"model": "claude-x", "max_tokens": 200, "messages": messages, "tools": [SEARCH]}


@pytest.mark.parametrize(
    ("text", "pauses"), [("news?", 0), ("news? pause_turn", 1), ("pause_turn x3 news", 3)]
)
def test_the_question_says_how_many_times_the_turn_pauses(text: str, pauses: int) -> None:
    assert wanted_pauses(text) == pauses


def test_a_turn_pauses_until_the_answer_sent_back_holds_its_searches() -> None:
    question = "news? pause_turn x2"
    first = render.anthropic_message(plan_messages(_asked(question)), "msg_1")
    assert first["stop_reason"] == "pause_turn"
    assert first["content"] == paused_blocks(question, 0)
    assert [b["type"] for b in first["content"]] == [
        "text",
        "server_tool_use",
        "web_search_tool_result",
    ]
    assert first["content"][0]["text"] == PAUSED_TEXT
    second = render.anthropic_message(plan_messages(_asked(question, first["content"])), "m2")
    assert second["stop_reason"] == "pause_turn"
    assert second["content"][1]["id"] != first["content"][1]["id"]
    both = first["content"] + second["content"]
    assert searches_done(_asked(question, both)["messages"]) == 2
    last = render.anthropic_message(plan_messages(_asked(question, both)), "m3")
    assert last["stop_reason"] == "end_turn" and last["content"][-1]["type"] == "text"


def test_a_paused_stream_says_pause_turn_after_its_blocks() -> None:
    plan = plan_messages({**_asked("news? pause_turn"), "stream": True})
    events = [event for frame in render.anthropic_stream_frames(plan, "msg_1") for event in frame]
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["text", "server_tool_use", "web_search_tool_result"]
    deltas = {e["delta"]["type"] for e in events if e["type"] == "content_block_delta"}
    assert deltas == {"text_delta", "input_json_delta"}
    [end] = [e for e in events if e["type"] == "message_delta"]
    assert end["delta"]["stop_reason"] == "pause_turn"
    assert events[-1] == {"type": "message_stop"}
