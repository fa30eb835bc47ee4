"""Stop reasons both ways, unknown values included."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic.stop_reasons import (
    finish_reason,
    matched_stop_sequence,
    stop_reason,
)


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("model_context_window_exceeded", "length"),
        ("something_new", "stop"),
        (None, "stop"),
        (3, "stop"),
    ],
)
def test_finish_reason_for_anthropic_stop_reasons(stop: Any, finish: str) -> None:
    assert finish_reason(stop) == finish


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("function_call", "tool_use"), ("something_new", "end_turn"), (None, "end_turn")],
)
def test_stop_reason_for_openai_finish_reasons(finish: Any, stop: str) -> None:
    assert stop_reason(finish) == stop


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "tool_use"),
        (None, "tool_use"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
    ],
)
def test_an_answer_with_tool_calls_stops_for_tool_use(finish: Any, stop: str) -> None:
    # OpenAI answers finish_reason "stop" with tool calls when tool_choice names a function.
    assert stop_reason(finish, calls_tools=True) == stop


@pytest.mark.parametrize(
    ("finish", "matched", "expected"),
    [
        ("stop", "###", "###"),  # vLLM: a stop string matched
        ("stop", 128009, None),  # vLLM: a stop token id (EOS) matched
        ("stop", None, None),  # OpenAI says nothing
        ("stop", "", None),
        ("length", "###", None),
    ],
)
def test_matched_stop_sequence_is_read_from_vllms_stop_reason(
    finish: str, matched: object, expected: str | None
) -> None:
    assert matched_stop_sequence(finish, matched) == expected
