"""Claude's context editing (`clear_tool_uses_20250919`), applied by the gateway to what an
Anthropic client sends an OpenAI-format deployment."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.json_types import JSON
from gateway.providers.anthropic.context_edits import PLACEHOLDER, with_context_edits

BIG = "line of a large file\n" * 400  # ~2,400 tokens


def _session(calls: int, names: tuple[str, ...] = ("read",)) -> list[JSON]:
    """A conversation of `calls` tool calls (named in turn from `names`), each answered."""
    messages: list[JSON] = [{"role": "user", "content": "Fix the bug."}]
    for i in range(calls):
        use = {"type": "tool_use", "id": f"t{i}", "name": names[i % len(names)], "input": {"n": i}}
        messages.append({"role": "assistant", "content": [{"type": "text", "text": "Ok."}, use]})
        result = {"type": "tool_result", "tool_use_id": f"t{i}", "content": f"{i}: {BIG}"}
        messages.append({"role": "user", "content": [result]})
    return messages


def _asked(messages: list[JSON], **edit: Any) -> JSON:
    return {
        "model": "m",
        "messages": messages,
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919", **edit}]},
    }


def _results(body: JSON) -> list[object]:
    return [
        block["content"]
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "tool_result"
    ]


def _inputs(body: JSON) -> list[object]:
    return [
        block["input"]
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "tool_use"
    ]


def test_past_the_trigger_the_results_before_the_last_kept_are_cleared() -> None:
    asked = _asked(
        _session(6),
        trigger={"type": "input_tokens", "value": 5_000},
        keep={"type": "tool_uses", "value": 2},
    )
    before = copy.deepcopy(asked)
    sent = with_context_edits(asked)
    results = _results(sent)
    assert results[:4] == [PLACEHOLDER] * 4
    assert [str(r)[:2] for r in results[4:]] == ["4:", "5:"]
    assert _inputs(sent) == [{"n": i} for i in range(6)]  # inputs stay unless asked
    assert asked == before  # the client's own conversation is not changed


def test_below_the_trigger_nothing_is_cleared() -> None:
    asked = _asked(_session(6))  # 100,000 tokens by default; this one holds ~15,000
    assert with_context_edits(asked) is asked
    counted = _asked(_session(6), trigger={"type": "tool_uses", "value": 7})
    assert with_context_edits(counted) is counted


def test_the_default_keeps_three_and_the_trigger_can_count_tool_uses() -> None:
    sent = with_context_edits(_asked(_session(5), trigger={"type": "tool_uses", "value": 5}))
    assert _results(sent)[:2] == [PLACEHOLDER] * 2 and PLACEHOLDER not in _results(sent)[2:]


def test_excluded_tools_keep_their_results_and_inputs_are_cleared_when_asked() -> None:
    sent = with_context_edits(
        _asked(
            _session(6, ("read", "memory")),
            trigger={"type": "tool_uses", "value": 1},
            keep={"type": "tool_uses", "value": 0},
            exclude_tools=["memory"],
            clear_tool_inputs=["read"],
        )
    )
    results = _results(sent)
    assert results[0::2] == [PLACEHOLDER] * 3  # read
    assert PLACEHOLDER not in results[1::2]  # memory
    assert _inputs(sent) == [{}, {"n": 1}, {}, {"n": 3}, {}, {"n": 5}]


@pytest.mark.parametrize(("least", "cleared"), [(2_000, True), (3_000, False)])
def test_clear_at_least_clears_only_when_it_frees_that_much(least: int, cleared: bool) -> None:
    sent = with_context_edits(
        _asked(
            _session(4),
            trigger={"type": "tool_uses", "value": 1},
            clear_at_least={"type": "input_tokens", "value": least},
        )
    )
    assert (_results(sent)[0] == PLACEHOLDER) is cleared  # one result of ~2,400 tokens


def test_a_request_without_edits_or_with_others_is_sent_as_it_is() -> None:
    plain: JSON = {"model": "m", "messages": _session(6)}
    assert with_context_edits(plain) is plain
    thinking = {**plain, "context_management": {"edits": [{"type": "clear_thinking_20251015"}]}}
    assert with_context_edits(thinking) is thinking
    broken = {**plain, "context_management": {"edits": "all"}}
    assert with_context_edits(broken) is broken
