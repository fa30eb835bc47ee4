"""Codex's tools through the gateway's Responses API, with the real `openai` SDK: `apply_patch`
is a custom (free-form) tool and each MCP server's tools come in a `namespace`, in every Codex
request. A deployment that speaks Responses takes them as they are; one that speaks only chat
completions, and an Anthropic one, are sent them as function tools, and their calls come back as
the tools' own (`custom_tool_call` with its text, `function_call` with its `namespace`), so a
Codex session works on any deployment. Before, the translated ones answered 400."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, cast

import httpx
import openai
import pytest
from openai.types.responses import (
    CustomToolParam,
    NamespaceToolParam,
    Response,
    ResponseInputItemParam,
    ResponseInputParam,
    ToolChoiceCustomParam,
    ToolParam,
    ToolSearchToolParam,
)

from tests.procs import Proc, start_gateway

KEY = "sk-codex-tools-test"
MODELS = ["pass", "chat-only", "claude", "inproc"]
APPLY_PATCH: CustomToolParam = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch"'},
}
DOCS: NamespaceToolParam = {
    "type": "namespace",
    "name": "mcp__docs__",
    "description": "Tools of the docs MCP server",
    "tools": [
        {
            "type": "function",
            "name": "search",
            "description": "Search the docs",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        }
    ],
}
# The tool search Codex runs itself, and an MCP server's tools it defers until a search loads them.
SEARCH: ToolSearchToolParam = {
    "type": "tool_search",
    "execution": "client",
    "description": "Search for more tools",
    "parameters": {
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
    },
}
JIRA: NamespaceToolParam = {
    "type": "namespace",
    "name": "mcp__jira__",
    "description": "Tools of the Jira MCP server",
    "tools": [{"type": "function", "name": "create_issue", "defer_loading": True}],
}
QUESTION: ResponseInputItemParam = {"role": "user", "content": "Fix the bug"}


def _config(upstream: str) -> str:
    text = ""
    for name, kind, extra in (
        ("oai", "openai", 'base_url = "{u}/v1"\nresponses = true\n'),
        ("chat", "openai", 'base_url = "{u}/v1"\n'),
        ("ant", "anthropic", 'base_url = "{u}"\n'),
        ("inproc", "mock", ""),
    ):
        text += f'[[providers]]\nname = "{name}"\ntype = "{kind}"\n{extra.format(u=upstream)}\n'
    for model, provider in (("pass", "oai"), ("chat-only", "chat"), ("claude", "ant")):
        text += f'[[models]]\nname = "{model}"\n'
        text += f'[[models.deployments]]\nprovider = "{provider}"\nmodel = "mock-small"\n\n'
    text += '[[models]]\nname = "inproc"\n'
    text += '[[models.deployments]]\nprovider = "inproc"\nmodel = "mock-small"\n\n'
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"\n'


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("codex-tools")
    (root / "gateway.toml").write_text(_config(mock_upstream.url))
    proc = start_gateway(root / "gateway.toml")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(gateway: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        yield sdk


def ask(
    client: openai.OpenAI,
    model: str,
    stream: bool,
    items: ResponseInputParam,
    choice: ToolChoiceCustomParam | openai.Omit = openai.omit,
) -> Response:
    tools: list[ToolParam] = [DOCS, APPLY_PATCH]
    if not stream:
        return client.responses.create(model=model, input=items, tools=tools, tool_choice=choice)
    with client.responses.stream(
        model=model, input=items, tools=tools, tool_choice=choice
    ) as events:
        return events.get_final_response()


def sent_back(item: Any) -> ResponseInputItemParam:
    """An output item as Codex sends it back in the next turn's `input`."""
    return cast(ResponseInputItemParam, item.model_dump(exclude_none=True))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_apply_patch_is_called_as_a_custom_tool(
    client: openai.OpenAI, model: str, stream: bool
) -> None:
    choice: ToolChoiceCustomParam = {"type": "custom", "name": "apply_patch"}
    first = ask(client, model, stream, [QUESTION], choice)
    [call] = first.output
    assert call.type == "custom_tool_call"
    assert (call.name, call.input) == ("apply_patch", "test")  # the mock's argument, as text
    output: ResponseInputItemParam = {
        "type": "custom_tool_call_output",
        "call_id": call.call_id,
        "output": "Done!",
    }
    second = ask(client, model, stream, [QUESTION, sent_back(call), output])
    assert second.output_text == "Tool result: Done!"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_an_mcp_tool_is_called_with_its_namespace(
    client: openai.OpenAI, model: str, stream: bool
) -> None:
    # The mock calls the first tool offered: the namespace's one function.
    first = ask(client, model, stream, [QUESTION])
    [call] = first.output
    assert call.type == "function_call"
    assert (call.namespace, call.name, call.arguments) == (
        "mcp__docs__",
        "search",
        '{"query":"test"}',
    )
    output: ResponseInputItemParam = {
        "type": "function_call_output",
        "call_id": call.call_id,
        "output": "3 pages",
    }
    second = ask(client, model, stream, [QUESTION, sent_back(call), output])
    assert second.output_text == "Tool result: 3 pages"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_search_codex_runs_is_called_and_what_it_loads_offered(
    client: openai.OpenAI, model: str, stream: bool
) -> None:
    def ask_with_search(items: ResponseInputParam) -> Response:
        tools: list[ToolParam] = [SEARCH, JIRA]
        if not stream:
            return client.responses.create(model=model, input=items, tools=tools)
        with client.responses.stream(model=model, input=items, tools=tools) as events:
            return events.get_final_response()

    # The deferred tool is not offered yet: the mock calls the first tool, the search.
    [call] = ask_with_search([QUESTION]).output
    assert call.type == "tool_search_call"
    assert (call.execution, call.arguments) == ("client", {"query": "test"})
    loaded: ResponseInputItemParam = {
        "type": "tool_search_output",
        "call_id": call.call_id,
        "execution": "client",
        "tools": [{**JIRA, "tools": [{"type": "function", "name": "create_issue"}]}],
    }
    second = ask_with_search([QUESTION, sent_back(call), loaded])
    assert second.output_text == "Tool result: Tools loaded: mcp__jira__create_issue"


@pytest.mark.parametrize("model", ["chat-only", "claude"])
def test_translated_deployments_are_sent_function_tools(
    client: openai.OpenAI, mock_upstream: Proc, model: str
) -> None:
    # Chat's function tools; Anthropic's tools (name, input_schema) made of them.
    client.responses.create(model=model, input=[QUESTION], tools=[DOCS, APPLY_PATCH])
    body = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"]
    names = [t["function"]["name"] if "function" in t else t["name"] for t in body["tools"]]
    assert names == ["mcp__docs__search", "apply_patch"]
    patch = body["tools"][1]
    schema = patch["function"]["parameters"] if "function" in patch else patch["input_schema"]
    assert schema["required"] == ["input"]
    assert "*** Begin Patch" in schema["properties"]["input"]["description"]


@pytest.mark.parametrize("model", ["chat-only", "claude"])
def test_codexs_default_web_search_is_left_out_for_a_translated_deployment(
    client: openai.OpenAI, mock_upstream: Proc, model: str
) -> None:
    # Codex offers its cached web search with every request: the model answers without it.
    cached: ToolParam = {"type": "web_search", "external_web_access": False}
    answer = client.responses.create(model=model, input=[QUESTION], tools=[APPLY_PATCH, cached])
    assert answer.status == "completed"
    body = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"]
    names = [t["function"]["name"] if "function" in t else t["name"] for t in body["tools"]]
    assert names == ["apply_patch"]


def test_a_hosted_tool_a_request_relies_on_is_refused_by_a_translated_deployment(
    client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(
            model="chat-only",
            input="hi",
            tools=[APPLY_PATCH, {"type": "file_search", "vector_store_ids": ["vs_1"]}],
        )
    assert "file_search" in refused.value.message


# What Codex 0.154 puts at the head of every input: tools offered from there on.
ADDITIONAL: ResponseInputItemParam = cast(
    ResponseInputItemParam,
    {
        "type": "additional_tools",
        "id": "at_1",
        "role": "developer",
        "tools": [{"type": "namespace", "name": "functions", "tools": [APPLY_PATCH]}],
    },
)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_codexs_additional_tools_are_offered_and_called(
    client: openai.OpenAI, model: str, stream: bool
) -> None:
    items: ResponseInputParam = [ADDITIONAL, {"role": "developer", "content": "rules"}, QUESTION]
    if not stream:
        answer = client.responses.create(model=model, input=items)
    else:
        with client.responses.stream(model=model, input=items) as events:
            answer = events.get_final_response()
    [call] = answer.output  # the mock calls the first tool offered: the item's
    assert call.type == "custom_tool_call"
    assert (call.namespace, call.name, call.input) == ("functions", "apply_patch", "test")


@pytest.mark.parametrize("model", ["chat-only", "claude"])
def test_a_stopped_call_and_a_stray_output_still_reach_a_translated_deployment(
    client: openai.OpenAI, mock_upstream: Proc, model: str
) -> None:
    # Codex stopped while the tool ran (no output), then injected an output with no call: chat
    # and Messages refuse both (the mock as they do), so the gateway pairs them up.
    stopped: ResponseInputItemParam = {
        "type": "function_call",
        "call_id": "call_stopped",
        "name": "mcp__docs__search",
        "arguments": "{}",
    }
    stray = cast(ResponseInputItemParam, {"type": "function_call_output", "output": "beat"})
    items: ResponseInputParam = [QUESTION, stopped, {"role": "user", "content": "go on"}, stray]
    answer = client.responses.create(model=model, input=items, tools=[DOCS])
    assert answer.status == "completed"
    body = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"]
    sent = str(body["messages"])
    assert "the call was stopped before it returned" in sent and "beat" in sent
