"""Custom tools and namespaces of tools as chat function tools, and their calls back."""

from __future__ import annotations

import re

import orjson
import pytest

from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.responses.chat_tools import (
    ToolOrigin,
    call_item,
    chat_function_name,
    chat_tools,
    custom_input,
    tool_origins,
)

# Codex's shapes: apply_patch as a custom tool with a Lark grammar, an MCP server's tools in a
# namespace whose name ends with `__`, one without.
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+"},
}
DOCS = {
    "type": "namespace",
    "name": "mcp__docs__",
    "description": "The docs server",
    "tools": [
        {"type": "function", "name": "search", "parameters": {"type": "object"}},
        {"type": "custom", "name": "query", "description": "A query in the docs language"},
    ],
}
GRAPH = {
    "type": "namespace",
    "name": "mcp__codegraph",
    "description": "The code graph",
    "tools": [{"type": "function", "name": "codegraph_search", "strict": False}],
}
SHELL = {"type": "function", "name": "shell", "parameters": {"type": "object"}}


def test_names_join_the_namespace_as_codex_spelled_mcp_tools() -> None:
    assert chat_function_name("shell", None) == "shell"
    assert chat_function_name("search", "mcp__docs__") == "mcp__docs__search"
    assert chat_function_name("codegraph_search", "mcp__codegraph") == (
        "mcp__codegraph__codegraph_search"
    )


def test_names_keep_to_the_characters_and_length_chat_and_anthropic_take() -> None:
    assert chat_function_name("js", "mcp__node.repl") == "mcp__node_repl__js"
    long = chat_function_name(
        "a_tool_with_a_rather_long_name_indeed", "mcp__a_server_named_at_length"
    )
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", long)
    # Stable (the answer maps it back by the same name), and two long names stay apart.
    assert long == chat_function_name(
        "a_tool_with_a_rather_long_name_indeed", "mcp__a_server_named_at_length"
    )
    other = chat_function_name(
        "a_tool_with_a_rather_long_name_indeed2", "mcp__a_server_named_at_length"
    )
    assert other != long and other[:50] == long[:50]


def test_chat_tools_flatten_namespaces_and_describe_custom_inputs() -> None:
    tools = chat_tools([SHELL, APPLY_PATCH, DOCS, GRAPH])
    assert [t["function"]["name"] for t in tools] == [
        "shell",
        "apply_patch",
        "mcp__docs__search",
        "mcp__docs__query",
        "mcp__codegraph__codegraph_search",
    ]
    assert tools[0] == {
        "type": "function",
        "function": {"name": "shell", "parameters": {"type": "object"}},
    }
    patch = tools[1]["function"]
    assert patch["description"] == APPLY_PATCH["description"]
    assert patch["parameters"]["required"] == ["input"]
    assert patch["parameters"]["additionalProperties"] is False
    described = patch["parameters"]["properties"]["input"]
    assert described["type"] == "string"
    assert "lark grammar" in described["description"]
    assert "start: begin_patch hunk+" in described["description"]
    # A custom tool without a format takes free-form text.
    assert "free-form" in tools[3]["function"]["parameters"]["properties"]["input"]["description"]
    assert tools[4]["function"]["strict"] is False


@pytest.mark.parametrize(
    "tools",
    [
        [{"type": "web_search"}],
        [{"type": "namespace", "name": "ns", "tools": [{"type": "file_search"}]}],
        ["shell"],
        # Two tools that would be one chat function.
        [{"type": "function", "name": "mcp__docs__search"}, DOCS],
    ],
)
def test_what_chat_cannot_carry_is_refused(tools: list[object]) -> None:
    with pytest.raises(TranslationError) as info:
        chat_tools(tools)
    assert info.value.param == "tools"


def test_origins_name_only_the_tools_whose_calls_change() -> None:
    assert tool_origins([SHELL, APPLY_PATCH, DOCS, GRAPH]) == {
        "apply_patch": ToolOrigin("apply_patch", None, custom=True),
        "mcp__docs__search": ToolOrigin("search", "mcp__docs__"),
        "mcp__docs__query": ToolOrigin("query", "mcp__docs__", custom=True),
        "mcp__codegraph__codegraph_search": ToolOrigin("codegraph_search", "mcp__codegraph"),
    }
    assert tool_origins(None) == {}
    assert tool_origins([3, {"type": "namespace", "tools": None}]) == {}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"input": "*** Begin Patch\\n*** End Patch"}', "*** Begin Patch\n*** End Patch"),
        ('{"patch": "diff"}', "diff"),  # the one string, under another name
        ("*** Begin Patch", "*** Begin Patch"),  # written bare
        ('{"a": "x", "b": "y"}', '{"a": "x", "b": "y"}'),  # not one string: as written
        ('["x"]', '["x"]'),
        ("", ""),
    ],
)
def test_custom_input_from_the_functions_arguments(arguments: str, expected: str) -> None:
    assert custom_input(arguments) == expected


def test_call_items_are_the_tools_own() -> None:
    arguments = orjson.dumps({"input": "PATCH"}).decode()
    custom = call_item(ToolOrigin("apply_patch", None, True), "call_1", "apply_patch", arguments)
    assert custom["id"].startswith("ctc_")
    assert {k: v for k, v in custom.items() if k != "id"} == {
        "type": "custom_tool_call",
        "status": "completed",
        "call_id": "call_1",
        "name": "apply_patch",
        "input": "PATCH",
    }
    named = call_item(ToolOrigin("search", "mcp__docs__"), "call_2", "mcp__docs__search", "{}")
    assert named["type"] == "function_call" and named["id"].startswith("fc_")
    assert (named["name"], named["namespace"], named["arguments"]) == (
        "search",
        "mcp__docs__",
        "{}",
    )
    plain = call_item(None, "call_3", "shell", "{}", status="in_progress", item_id="fc_x")
    assert plain == {
        "id": "fc_x",
        "type": "function_call",
        "status": "in_progress",
        "call_id": "call_3",
        "name": "shell",
        "arguments": "{}",
    }
