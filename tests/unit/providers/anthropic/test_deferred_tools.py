"""Claude Code's tool search on an OpenAI-format deployment: a tool with `defer_loading` is
offered only once a `tool_reference` in a tool result loaded it (as Claude's server does; with
hundreds of MCP tools, OpenAI's limit is 128), and the reference reads as text."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.mock_provider.behaviour import RequestError
from gateway.mock_provider.schema_checks import MAX_TOOLS, check_tool_schemas
from gateway.providers.anthropic.requests_anthropic_to_openai import anthropic_request_to_openai

SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}


def _tool(name: str, deferred: bool = False) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": name, "input_schema": SCHEMA}
    if deferred:
        tool["defer_loading"] = True
    return tool


TOOLS = [_tool("ToolSearch"), _tool("Read")] + [_tool(f"mcp__s__t{i}", True) for i in range(200)]


def _offered(messages: list[dict[str, Any]]) -> list[str]:
    body = {"model": "m", "max_tokens": 10, "messages": messages, "tools": TOOLS}
    return [t["function"]["name"] for t in anthropic_request_to_openai(body, "gpt")["tools"]]


def test_a_deferred_tool_is_offered_once_a_tool_search_loaded_it() -> None:
    ask: dict[str, Any] = {"role": "user", "content": "List the channels"}
    assert _offered([ask]) == ["ToolSearch", "Read"]
    search = {"type": "tool_use", "id": "toolu_1", "name": "ToolSearch", "input": {"q": "s"}}
    references = [{"type": "tool_reference", "tool_name": "mcp__s__t7"}]
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": references}
    conversation: list[dict[str, Any]] = [
        ask,
        {"role": "assistant", "content": [search]},
        {"role": "user", "content": [result]},
    ]
    assert _offered(conversation) == ["ToolSearch", "Read", "mcp__s__t7"]
    body = {"model": "m", "max_tokens": 10, "messages": conversation, "tools": TOOLS}
    chat = anthropic_request_to_openai(body, "gpt")
    assert chat["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "toolu_1",
        "content": "Tool loaded: mcp__s__t7",
    }
    check_tool_schemas(chat["tools"])  # within what OpenAI (the mock) takes


def test_the_mock_refuses_more_tools_than_openai_takes() -> None:
    tools = [{"type": "function", "function": {"name": f"f{i}"}} for i in range(MAX_TOOLS + 1)]
    with pytest.raises(RequestError) as refused:
        check_tool_schemas(tools)
    assert refused.value.param == "tools" and "array too long" in refused.value.message
