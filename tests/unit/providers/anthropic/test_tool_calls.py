"""One tool call in each format, and OpenAI arguments that are not a JSON object."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic.tool_calls import (
    parse_arguments,
    tool_call_from_tool_use,
    tool_use_from_tool_call,
)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": "Paris"}', {"city": "Paris"}),
        (b'{"n": 1}', {"n": 1}),
        ({"already": "parsed"}, {"already": "parsed"}),
        ("[1, 2]", {}),
        ("not json", {}),
        ("", {}),
        (None, {}),
    ],
)
def test_parse_arguments(arguments: Any, expected: dict[str, Any]) -> None:
    assert parse_arguments(arguments) == expected


def test_a_tool_call_survives_a_round_trip() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    block = tool_use_from_tool_call(call)
    assert block == {
        "type": "tool_use",
        "id": "call_1",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert tool_call_from_tool_use(block) == call


def test_a_tool_use_without_input_gets_empty_arguments() -> None:
    call = tool_call_from_tool_use({"type": "tool_use", "id": "t", "name": "now"})
    assert call["function"] == {"name": "now", "arguments": "{}"}
