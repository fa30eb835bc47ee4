"""Tool-call arguments are texts of the body like the content: what the model wrote into a
call, and what it reads back in the history, is scanned and rewritten in place."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import orjson

from gateway.config.types import GuardrailConfig
from gateway.guardrails.bodies import input_groups, output_groups
from gateway.guardrails.compiled import GuardrailSet
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard import _apply
from gateway.pipeline.services import Services

EMAIL = "jane.doe@example.org"
ARGS = orjson.dumps({"to": EMAIL}).decode()


def texts(groups: list[list[Any]]) -> list[list[str]]:
    return [[container[key] for container, key in group] for group in groups]


def redact(groups: list[list[Any]], guards: GuardrailSet) -> None:
    """The input stage's scan and rewrite of `groups`."""
    ctx = cast(RequestContext, SimpleNamespace(guardrails=[]))
    asyncio.run(_apply(guards.input, groups, "input", ctx, cast(Services, None), None))


def pii(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(GuardrailConfig(name="pii", type="pii", applies_to="both", action="redact"))


def test_chat_history_tool_call_arguments_are_read_with_their_message(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    call: dict[str, Any] = {
        "id": "c1",
        "type": "function",
        "function": {"name": "send", "arguments": ARGS},
    }
    body: dict[str, Any] = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "assistant", "function_call": {"name": "old", "arguments": ARGS}},
        ]
    }
    groups = input_groups(body, "chat")
    assert texts(groups) == [["hi"], [ARGS], [ARGS]]
    redact(groups, pii(compile_set))
    assert orjson.loads(call["function"]["arguments"]) == {"to": "<EMAIL_ADDRESS>"}
    assert EMAIL not in orjson.dumps(body).decode()


def test_anthropic_tool_use_input_strings_are_read(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    block = {"type": "tool_use", "id": "t", "name": "send", "input": {"to": [EMAIL], "n": 3}}
    body: dict[str, Any] = {
        "messages": [{"role": "assistant", "content": [{"type": "text", "text": "ok"}, block]}]
    }
    groups = input_groups(body, "messages")
    assert texts(groups) == [["ok"], [EMAIL]]
    redact(groups, pii(compile_set))
    assert block["input"] == {"to": ["<EMAIL_ADDRESS>"], "n": 3}


def test_responses_function_call_items_are_read(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    item = {"type": "function_call", "call_id": "c", "name": "send", "arguments": ARGS}
    groups = input_groups({"input": [item]}, "responses")
    assert texts(groups) == [[ARGS]]
    redact(groups, pii(compile_set))
    assert EMAIL not in item["arguments"]


def test_answer_tool_calls_are_output_texts() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "send", "arguments": ARGS}}
    openai = {"choices": [{"index": 0, "message": {"content": "sent", "tool_calls": [call]}}]}
    assert texts(output_groups(openai, "openai")) == [["sent"], [ARGS]]
    anthropic = {
        "type": "message",
        "content": [
            {"type": "text", "text": "sent"},
            {"type": "tool_use", "id": "t", "name": "send", "input": {"to": EMAIL}},
        ],
    }
    assert texts(output_groups(anthropic, "anthropic")) == [["sent"], [EMAIL]]


def test_arguments_sent_as_json_are_read_string_by_string(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    arguments: dict[str, Any] = {"to": [EMAIL], "n": 1}
    call = {"id": "c1", "type": "function", "function": {"name": "send", "arguments": arguments}}
    body: dict[str, Any] = {"messages": [{"role": "assistant", "tool_calls": [call]}]}
    groups = input_groups(body, "chat")
    assert texts(groups) == [[EMAIL]]
    redact(groups, pii(compile_set))
    assert arguments == {"to": ["<EMAIL_ADDRESS>"], "n": 1}


def test_anthropic_text_documents_are_read(compile_set: Callable[..., GuardrailSet]) -> None:
    plain = {"type": "document", "source": {"type": "text", "media_type": "text/plain"}}
    plain["source"]["data"] = f"Contact: {EMAIL}"  # type: ignore[index]
    blocks = {
        "type": "document",
        "source": {"type": "content", "content": [{"type": "text", "text": EMAIL}]},
    }
    pdf: dict[str, Any] = {"type": "document", "source": {"type": "base64", "data": "JVBERi0x"}}
    body: dict[str, Any] = {"messages": [{"role": "user", "content": [plain, blocks, pdf]}]}
    groups = input_groups(body, "messages")
    assert texts(groups) == [[f"Contact: {EMAIL}", EMAIL]]
    redact(groups, pii(compile_set))
    assert EMAIL not in orjson.dumps(body).decode()
    assert pdf["source"]["data"] == "JVBERi0x"
