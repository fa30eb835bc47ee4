"""A paused Claude turn: which requests can pause, what a continuation sends, how the answers
of one turn join."""

from __future__ import annotations

import orjson
import pytest

from gateway.json_types import JSON
from gateway.providers.anthropic.paused_turns import (
    continuation_body,
    merged_message,
    offers_server_tool,
    paused_message,
    summed_usage,
)

SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
CLIENT_TOOL = {"name": "lookup", "input_schema": {"type": "object"}}
PAUSED_CONTENT: list[JSON] = [
    {"type": "text", "text": "Let me search."},
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
]


@pytest.mark.parametrize(
    ("tools", "offers"),
    [
        ([SEARCH], True),
        ([CLIENT_TOOL, {"type": "web_fetch_20250910", "name": "web_fetch"}], True),
        ([CLIENT_TOOL, {**CLIENT_TOOL, "type": "custom"}], False),
        (None, False),
        ("web_search", False),
    ],
)
def test_only_a_request_offering_a_server_tool_can_pause(tools: object, offers: bool) -> None:
    assert offers_server_tool({"tools": tools}) is offers


def test_a_paused_answer_is_read_and_any_other_is_not() -> None:
    paused = {"type": "message", "content": PAUSED_CONTENT, "stop_reason": "pause_turn"}
    assert paused_message(orjson.dumps(paused)) == paused
    assert paused_message(orjson.dumps({**paused, "stop_reason": "end_turn"})) is None
    assert paused_message(orjson.dumps({**paused, "content": None})) is None
    assert paused_message(b'{"stop_reason": "pause_turn"') is None  # its adapter's to refuse
    assert paused_message(b'["pause_turn"]') is None


def test_a_continuation_sends_the_answer_so_far_as_the_last_assistant_message() -> None:
    sent: JSON = {
        "model": "claude",
        "max_tokens": 100,
        "stream": True,
        "tools": [SEARCH],
        "messages": [{"role": "user", "content": "news?"}],
    }
    body = orjson.loads(continuation_body(orjson.dumps(sent), PAUSED_CONTENT))
    assert body == {
        **sent,
        "messages": [*sent["messages"], {"role": "assistant", "content": PAUSED_CONTENT}],
    }


@pytest.mark.parametrize(
    ("prefill", "joined"),
    [
        ("Answer:", [{"type": "text", "text": "Answer:"}, *PAUSED_CONTENT]),
        ([{"type": "text", "text": "A"}], [{"type": "text", "text": "A"}, *PAUSED_CONTENT]),
        ("", PAUSED_CONTENT),
    ],
)
def test_a_prefill_the_answer_went_on_from_is_joined_to_it(prefill: object, joined: object) -> None:
    sent = {
        "messages": [
            {"role": "user", "content": "news?"},
            {"role": "assistant", "content": prefill},
        ]
    }
    body = orjson.loads(continuation_body(orjson.dumps(sent), PAUSED_CONTENT))
    assert body["messages"] == [sent["messages"][0], {"role": "assistant", "content": joined}]


def test_the_answers_of_one_turn_join_with_their_usage_added_up() -> None:
    first = {
        "id": "msg_1",
        "content": PAUSED_CONTENT,
        "stop_reason": "pause_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 100,
            "output_tokens": 10,
            "cache_read_input_tokens": 0,
            "server_tool_use": {"web_search_requests": 1},
            "service_tier": "standard",
        },
    }
    more = {
        "id": "msg_2",
        "content": [{"type": "text", "text": "Done."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 150,
            "output_tokens": 5,
            "cache_read_input_tokens": None,
            "server_tool_use": {"web_search_requests": 2},
            "service_tier": "priority",
        },
    }
    merged = merged_message(first, more)
    assert merged["id"] == "msg_1"
    assert merged["content"] == [*PAUSED_CONTENT, {"type": "text", "text": "Done."}]
    assert merged["stop_reason"] == "end_turn"
    assert merged["usage"] == {
        "input_tokens": 250,
        "output_tokens": 15,
        "cache_read_input_tokens": 0,
        "server_tool_use": {"web_search_requests": 3},
        "service_tier": "priority",
    }


def test_usage_that_is_not_an_object_adds_nothing() -> None:
    assert summed_usage(None, {"input_tokens": 3}) == {"input_tokens": 3}
    assert summed_usage({"input_tokens": 3}, "broken") == {"input_tokens": 3}
