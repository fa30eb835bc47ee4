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
from gateway.providers.responses.requests_responses_to_chat import responses_request_to_chat

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
# A tool search Codex runs itself, and a namespace of tools it defers until a search finds them.
SEARCH = {
    "type": "tool_search",
    "execution": "client",
    "description": "Find more tools",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
}
DEFERRED = {
    "type": "namespace",
    "name": "mcp__jira__",
    "description": "Jira",
    "tools": [{"type": "function", "name": "create_issue", "defer_loading": True}],
}


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
    tools = chat_tools({"tools": [SHELL, APPLY_PATCH, DOCS, GRAPH]})
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
        [{"type": "file_search", "vector_store_ids": ["vs_1"]}],
        [{"type": "code_interpreter"}],
        [{"type": "mcp", "server_label": "deepwiki"}],
        [{"type": "tool_search"}],  # OpenAI runs it: hosted
        [{"type": "tool_search", "execution": "server"}],
        [{"type": "namespace", "name": "ns", "tools": [{"type": "file_search"}]}],
        ["shell"],
        # Two tools that would be one chat function.
        [{"type": "function", "name": "mcp__docs__search"}, DOCS],
    ],
)
def test_what_chat_cannot_carry_is_refused(tools: list[object]) -> None:
    with pytest.raises(TranslationError) as info:
        chat_tools({"tools": tools})
    assert info.value.param == "tools"


def test_the_hosted_tools_apps_offer_by_default_are_left_out() -> None:
    # Codex sends its cached web search with every request, image generation with some models.
    hosted = [
        {"type": "web_search", "external_web_access": False},
        {"type": "web_search_preview"},
        {"type": "image_generation", "output_format": "png"},
    ]
    tools = chat_tools({"tools": [*hosted[:2], APPLY_PATCH, hosted[2]]})
    assert [tool["function"]["name"] for tool in tools] == ["apply_patch"]
    assert chat_tools({"tools": hosted}) == []


def test_origins_name_only_the_tools_whose_calls_change() -> None:
    assert tool_origins({"tools": [SHELL, APPLY_PATCH, DOCS, GRAPH, SEARCH]}) == {
        "apply_patch": ToolOrigin("apply_patch", None, "custom"),
        "mcp__docs__search": ToolOrigin("search", "mcp__docs__"),
        "mcp__docs__query": ToolOrigin("query", "mcp__docs__", "custom"),
        "mcp__codegraph__codegraph_search": ToolOrigin("codegraph_search", "mcp__codegraph"),
        "tool_search": ToolOrigin("tool_search", None, "tool_search"),
    }
    assert tool_origins({}) == {}
    assert tool_origins({"tools": [3, {"type": "namespace", "tools": None}]}) == {}


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
    custom = call_item(
        ToolOrigin("apply_patch", None, "custom"), "call_1", "apply_patch", arguments
    )
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
    plain = call_item(None, "call_3", "shell", "{}", status="in_progress", id_suffix="x")
    assert plain == {
        "id": "fc_x",
        "type": "function_call",
        "status": "in_progress",
        "call_id": "call_3",
        "name": "shell",
        "arguments": "{}",
    }


def test_a_client_tool_search_is_a_function_and_deferred_tools_wait_for_it() -> None:
    body: dict[str, object] = {"tools": [SHELL, SEARCH, DEFERRED]}
    assert chat_tools(body) == [
        {"type": "function", "function": {"name": "shell", "parameters": {"type": "object"}}},
        {
            "type": "function",
            "function": {
                "name": "tool_search",
                "description": "Find more tools",
                "parameters": SEARCH["parameters"],
            },
        },
    ]
    # A search that loaded the namespace's tool: offered from then on (twice loaded, once sent).
    loaded = {
        "type": "tool_search_output",
        "call_id": "call_s",
        "execution": "client",
        "tools": [{**DEFERRED, "tools": [{"type": "function", "name": "create_issue"}]}],
    }
    body["input"] = [{"role": "user", "content": "file a bug"}, loaded, loaded]
    names = [tool["function"]["name"] for tool in chat_tools(body)]
    assert names == ["shell", "tool_search", "mcp__jira__create_issue"]
    assert tool_origins(body)["mcp__jira__create_issue"] == ToolOrigin(
        "create_issue", "mcp__jira__"
    )


def test_a_tool_search_call_carries_its_arguments_as_an_object() -> None:
    origin = ToolOrigin("tool_search", None, "tool_search")
    item = call_item(origin, "call_s", "tool_search", '{"query": "jira"}', id_suffix="1")
    assert item == {
        "id": "tsc_1",
        "type": "tool_search_call",
        "status": "completed",
        "call_id": "call_s",
        "execution": "client",
        "arguments": {"query": "jira"},
    }
    assert call_item(origin, "call_s", "tool_search", "")["arguments"] == {}
    assert call_item(origin, "call_s", "tool_search", "jira")["arguments"] == "jira"


@pytest.mark.parametrize(
    "tools",
    [
        [{"type": "namespace", "name": "ns", "tools": 5}],
        [{"type": "namespace", "name": 7, "tools": [{"type": "function", "name": None}]}],
        [{"type": "custom", "name": "c", "format": "lark"}],
        [{"type": "tool_search", "execution": "client", "parameters": None}],
        "tools",
        None,
    ],
)
def test_odd_shapes_are_carried_or_refused_never_a_crash(tools: object) -> None:
    body = {
        "tools": tools,
        "input": [
            {"type": "reasoning", "content": 3, "summary": "text"},
            {"type": "tool_search_output", "call_id": "c", "tools": {"a": 1}},
            {"type": "custom_tool_call", "call_id": "c", "name": 3, "input": None},
        ],
    }
    try:
        chat = responses_request_to_chat(body, "up", reasoning_content=True)
    except TranslationError as refused:
        assert refused.param == "tools"
    else:
        assert isinstance(chat["messages"], list)
    assert isinstance(tool_origins(body), dict)
