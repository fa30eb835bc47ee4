"""Gemini 3 through Google's OpenAI-compatible API (`gemini_compat`, answered as Gemini does):
a tool call's thought signature reaches the client and comes back as it went, JSON and
streamed; a tool loop whose calls carry none (an app's own history, an Anthropic client's
translated loop) is sent the value Google documents for them, to a provider with
`thought_signatures` (the default for generativelanguage.googleapis.com), and without it gets
Gemini's 400 with Gemini's own message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import anthropic
import openai
import pytest
from anthropic.types import MessageParam, ToolParam, ToolUseBlockParam
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from tests.e2e import gemini_compat
from tests.e2e.compat_upstream import CompatUpstream, running_compat_upstream
from tests.e2e.conftest import GATEWAY_KEY
from tests.procs import Proc, start_gateway

TOOLS: list[ChatCompletionToolParam] = [
    {"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}
]
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Read the README."}]


def _config(upstream: str) -> str:
    text = ""
    for name, extra in (("gemini", "thought_signatures = true\n"), ("plain", "")):
        text += f'[[providers]]\nname = "{name}"\ntype = "openai"\n'
        text += f'base_url = "{upstream}/v1beta/openai"\n{extra}\n'
    for model, provider in (("gemini", "gemini"), ("gemini-plain", "plain")):
        text += f'[[models]]\nname = "{model}"\n[[models.deployments]]\n'
        text += f'provider = "{provider}"\nmodel = "{gemini_compat.MODEL}"\n\n'
    return text + '[[keys]]\nid = "k"\nkey_env = "GW_KEY"\n'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, CompatUpstream]]:
    root: Path = tmp_path_factory.mktemp("gemini-signatures")
    with running_compat_upstream() as upstream:
        (root / "config.toml").write_text(_config(upstream.url))
        gateway = start_gateway(root / "config.toml", env={"GW_KEY": GATEWAY_KEY})
        try:
            yield gateway, upstream
        finally:
            gateway.stop()


def _sent_signatures(upstream: CompatUpstream) -> list[object]:
    """The signature of each tool call in the upstream's latest request."""
    return [
        ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
        for message in upstream.received[-1].body["messages"]
        for call in message.get("tool_calls") or ()
    ]


def _result(call_id: str) -> ChatCompletionMessageParam:
    return {"role": "tool", "tool_call_id": call_id, "content": "# README"}


def test_geminis_signature_goes_back_as_it_came(served: tuple[Proc, CompatUpstream]) -> None:
    gateway, upstream = served
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as sdk:
        first = sdk.chat.completions.create(model="gemini", messages=ASK, tools=TOOLS)
        message = first.choices[0].message
        assert message.tool_calls and message.tool_calls[0].model_extra == {
            "extra_content": {"google": {"thought_signature": gemini_compat.SIGNATURE}}
        }
        kept = cast(ChatCompletionMessageParam, message.model_dump(exclude_none=True))
        answer = sdk.chat.completions.create(
            model="gemini", messages=[*ASK, kept, _result(message.tool_calls[0].id)], tools=TOOLS
        )
        assert answer.choices[0].message.content == "Hello there"
        assert _sent_signatures(upstream) == [gemini_compat.SIGNATURE]
        # Streamed, the call comes with its signature too.
        with sdk.chat.completions.create(
            model="gemini", messages=ASK, tools=TOOLS, stream=True
        ) as stream:
            calls = [
                call.model_dump(exclude_none=True)
                for chunk in stream
                for choice in chunk.choices
                for call in choice.delta.tool_calls or ()
            ]
        assert [c["extra_content"]["google"]["thought_signature"] for c in calls] == [
            gemini_compat.SIGNATURE
        ]


def test_a_history_without_signatures_is_sent_the_skip_value(
    served: tuple[Proc, CompatUpstream],
) -> None:
    # An app that writes its assistant messages itself (LangChain rebuilds them) keeps no
    # signature: Gemini refuses the loop, unless the gateway fills the gap.
    gateway, upstream = served
    written: ChatCompletionMessageParam = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}
        ],
    }
    loop = [*ASK, written, _result("c1")]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as sdk:
        answer = sdk.chat.completions.create(model="gemini", messages=loop, tools=TOOLS)
        assert answer.choices[0].message.content == "Hello there"
        assert _sent_signatures(upstream) == [gemini_compat.SKIP_VALIDATOR]
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.chat.completions.create(model="gemini-plain", messages=loop, tools=TOOLS)
    error = cast(dict[str, Any], refused.value.body)
    assert error["message"].startswith("Function call is missing a thought_signature")
    assert refused.value.code == "INVALID_ARGUMENT"
    assert _sent_signatures(upstream) == [None]


def test_an_anthropic_clients_tool_loop_reaches_gemini(
    served: tuple[Proc, CompatUpstream],
) -> None:
    # Claude Code on Gemini: Anthropic's tool_use blocks have no place for the signature.
    gateway, upstream = served
    tools: list[ToolParam] = [{"name": "read_file", "input_schema": {"type": "object"}}]
    with anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0) as claude:
        first = claude.messages.create(
            model="gemini",
            max_tokens=100,
            tools=tools,
            messages=[{"role": "user", "content": "Read the README."}],
        )
        call = first.content[0]
        assert call.type == "tool_use" and first.stop_reason == "tool_use"
        loop: list[MessageParam] = [
            {"role": "user", "content": "Read the README."},
            {"role": "assistant", "content": [cast(ToolUseBlockParam, call.model_dump())]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "# R"}],
            },
        ]
        answer = claude.messages.create(model="gemini", max_tokens=100, tools=tools, messages=loop)
    assert answer.content[0].type == "text"
    assert _sent_signatures(upstream) == [gemini_compat.SKIP_VALIDATOR]
