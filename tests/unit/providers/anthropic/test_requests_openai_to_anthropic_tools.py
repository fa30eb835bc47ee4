"""OpenAI chat request -> Anthropic Messages request: tools, tool calls and their results
(golden bodies)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic.errors import TranslationError
from tests.unit.providers.anthropic.test_requests_openai_to_anthropic import WEATHER_TOOL, translate


def test_tool_calls_and_results_round_into_tool_use_and_merged_tool_results() -> None:
    out = translate(
        messages=[
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{not json"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "21C"}],
            },
            {"role": "user", "content": "Thanks"},
        ],
        tools=[WEATHER_TOOL],
    )
    assert out["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "21C"}],
                },
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert "tool_choice" not in out


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    out = translate(
        messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL], tool_choice=choice
    )
    assert out["tool_choice"] == expected


def test_parallel_tool_calls_false_disables_parallel_use() -> None:
    base: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER_TOOL]}
    assert translate(**base, parallel_tool_calls=False)["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }
    assert translate(**base, parallel_tool_calls=False, tool_choice="required")["tool_choice"] == {
        "type": "any",
        "disable_parallel_tool_use": True,
    }


def test_tool_choice_without_tools_is_dropped_and_other_tool_types_raise() -> None:
    out = translate(messages=[{"role": "user", "content": "x"}], tool_choice="auto")
    assert "tool_choice" not in out and "tools" not in out
    with pytest.raises(TranslationError, match="custom"):
        translate(
            messages=[{"role": "user", "content": "x"}], tools=[{"type": "custom", "custom": {}}]
        )


def test_tool_call_ids_anthropic_refuses_are_made_valid_in_calls_and_results_alike() -> None:
    # Ids from other servers (Kimi's "functions.get_weather:0") reach Claude after a fallback;
    # Anthropic answers 400 unless they match ^[a-zA-Z0-9_-]+$.
    out = translate(
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "functions.get_weather:0",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    },
                    {
                        "id": "call_ok-1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_ok-1", "content": "20C"},
        ]
    )
    uses = [b["id"] for b in out["messages"][1]["content"]]
    results = [b["tool_use_id"] for b in out["messages"][2]["content"]]
    assert uses == results == ["functions_get_weather_0", "call_ok-1"]
