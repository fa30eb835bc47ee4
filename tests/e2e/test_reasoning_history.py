"""A tool loop with DeepSeek's thinking mode through the gateway: the upstream refuses an
assistant message without `reasoning_content` (DeepSeek's 400, which `compat_upstream` answers
as DeepSeek does). To a provider with `reasoning_content = true` (the default for
api.deepseek.com) every assistant message is sent one: the reasoning the client kept (an Anthropic
client's `thinking` blocks, a Responses client's `reasoning` items) or an empty one. Without the
setting, nothing is added: OpenAI refuses fields it does not know."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import anthropic
import httpx
import openai
import pytest
from anthropic.types import (
    MessageParam,
    ThinkingBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
)
from openai.types.chat import ChatCompletionMessageParam
from openai.types.responses import ResponseInputItemParam, ResponseReasoningItemParam

from tests.e2e.compat_upstream import CompatUpstream, running_compat_upstream
from tests.e2e.conftest import GATEWAY_KEY
from tests.procs import Proc, start_gateway

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}
# An agent's second step, its assistant message written by the app (no reasoning_content).
TOOL_LOOP: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]


# Claude's side of a tool loop: the call and its result.
CALL: ToolUseBlockParam = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
RESULT: ToolResultBlockParam = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
TOOLS: list[ToolParam] = [{"name": "get_weather", "input_schema": {"type": "object"}}]


def _config(upstream: str, claude: str) -> str:
    text = f'[[providers]]\nname = "ant"\ntype = "anthropic"\nbase_url = "{claude}"\n\n'
    text += '[[models]]\nname = "claude"\n[[models.deployments]]\n'
    text += 'provider = "ant"\nmodel = "claude-sonnet-4-6"\n\n'
    for name, extra in (("deepseek", "reasoning_content = true\n"), ("plain", "")):
        text += f'[[providers]]\nname = "{name}"\ntype = "openai"\n'
        text += f'base_url = "{upstream}/v1"\n{extra}\n'
    for model, provider in (("ds", "deepseek"), ("ds-plain", "plain")):
        text += f'[[models]]\nname = "{model}"\n[[models.deployments]]\n'
        text += f'provider = "{provider}"\nmodel = "deepseek-reasoner"\n\n'
    return text + '[[keys]]\nid = "k"\nkey_env = "GW_KEY"\n'


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc
) -> Iterator[tuple[Proc, CompatUpstream]]:
    root: Path = tmp_path_factory.mktemp("reasoning-history")
    with running_compat_upstream() as upstream:
        (root / "config.toml").write_text(_config(upstream.url, mock_upstream.url))
        gateway = start_gateway(root / "config.toml", env={"GW_KEY": GATEWAY_KEY})
        try:
            yield gateway, upstream
        finally:
            gateway.stop()


def _assistants(upstream: CompatUpstream) -> list[dict[str, Any]]:
    """The assistant messages of the upstream's latest request."""
    return [m for m in upstream.received[-1].body["messages"] if m["role"] == "assistant"]


def test_an_openai_clients_tool_loop_is_sent_an_empty_reasoning(
    served: tuple[Proc, CompatUpstream],
) -> None:
    gateway, upstream = served
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as sdk:
        answer = sdk.chat.completions.create(model="ds", messages=TOOL_LOOP)
        assert answer.choices[0].message.content == "Hello there"
        assert [m["reasoning_content"] for m in _assistants(upstream)] == [""]
        # Without the setting the upstream is sent what the client wrote, and refuses it.
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.chat.completions.create(model="ds-plain", messages=TOOL_LOOP)
        assert "Missing `reasoning_content` field" in refused.value.message
        assert "reasoning_content" not in _assistants(upstream)[0]


def test_an_anthropic_clients_thinking_is_sent_as_the_reasoning(
    served: tuple[Proc, CompatUpstream],
) -> None:
    gateway, upstream = served
    thinking: ThinkingBlockParam = {
        "type": "thinking",
        "thinking": "Paris: ask the tool.",
        "signature": "sig",
    }
    steps: list[tuple[list[ThinkingBlockParam | ToolUseBlockParam], str]] = [
        ([thinking, CALL], "Paris: ask the tool."),
        ([CALL], ""),
    ]
    with anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0) as claude:
        for content, expected in steps:
            messages: list[MessageParam] = [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": content},
                {"role": "user", "content": [RESULT]},
            ]
            answer = claude.messages.create(
                model="ds", max_tokens=100, tools=TOOLS, messages=messages
            )
            assert answer.content[0].type == "text"
            assert [m["reasoning_content"] for m in _assistants(upstream)] == [expected]


def test_a_responses_clients_reasoning_items_are_sent_as_the_reasoning(
    served: tuple[Proc, CompatUpstream],
) -> None:
    gateway, upstream = served
    reasoning: ResponseReasoningItemParam = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Ask the tool."}],
    }
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as sdk:
        answer = sdk.responses.create(
            model="ds",
            input=[
                {"role": "user", "content": "Weather in Paris?"},
                reasoning,
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "get_weather",
                    "arguments": "{}",
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            ],
        )
    assert answer.output_text == "Hello there"
    assert [m["reasoning_content"] for m in _assistants(upstream)] == ["Ask the tool."]


def test_the_reasoning_a_responses_client_got_goes_back_with_its_tool_call(
    served: tuple[Proc, CompatUpstream],
) -> None:
    # The upstream's reasoning_content reaches the client as a reasoning item (its raw text, as
    # OpenAI's open-weight models give it); the client sends the item back with the next turn.
    gateway, upstream = served
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as sdk:
        first = sdk.responses.create(model="ds", input="Hi")
        reasoning, message = first.output
        assert reasoning.type == "reasoning" and reasoning.content is not None
        assert [part.text for part in reasoning.content] == ["The user greets me."]
        assert message.type == "message" and first.output_text == "Hello there"
        kept = cast(ResponseInputItemParam, reasoning.model_dump(exclude_none=True))
        call: ResponseInputItemParam = {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": "{}",
        }
        output: ResponseInputItemParam = {
            "type": "function_call_output",
            "call_id": "call_1",
            "output": "sunny",
        }
        sdk.responses.create(
            model="ds", input=[{"role": "user", "content": "Hi"}, kept, call, output]
        )
    assert [m["reasoning_content"] for m in _assistants(upstream)] == ["The user greets me."]


def test_an_anthropic_client_that_asked_to_see_thinking_gets_the_reasoning_and_sends_it_back(
    served: tuple[Proc, CompatUpstream],
) -> None:
    # Claude Code's turn: thinking on; the reasoning comes back as a thinking block (JSON and
    # streamed), and the block the client keeps goes back to DeepSeek as its reasoning_content.
    gateway, upstream = served
    with anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0) as claude:
        answer = claude.messages.create(
            model="ds",
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "Hi"}],
        )
        thought, text = answer.content
        assert thought.type == "thinking" and thought.thinking == "The user greets me."
        assert thought.signature and text.type == "text" and text.text == "Hello there"
        with claude.messages.stream(
            model="ds",
            max_tokens=2048,
            thinking={"type": "adaptive"},
            messages=[{"role": "user", "content": "Hi"}],
        ) as stream:
            deltas = [e.type for e in stream if e.type in ("thinking", "signature", "text")]
            streamed = stream.get_final_message()
        assert deltas == ["thinking", "thinking", "signature", "text"]
        assert [block.type for block in streamed.content] == ["thinking", "text"]
        assert streamed.content[0].model_dump() == thought.model_dump()
        kept = cast(ThinkingBlockParam, thought.model_dump())
        claude.messages.create(
            model="ds",
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            tools=TOOLS,
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [kept, CALL]},
                {"role": "user", "content": [RESULT]},
            ],
        )
    assert [m["reasoning_content"] for m in _assistants(upstream)] == ["The user greets me."]


def test_an_anthropic_client_that_did_not_ask_gets_no_thinking_block(
    served: tuple[Proc, CompatUpstream],
) -> None:
    gateway, _ = served
    with anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0) as claude:
        answer = claude.messages.create(
            model="ds", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
        )
        omitted = claude.messages.create(
            model="ds",
            max_tokens=2048,
            thinking={"type": "adaptive", "display": "omitted"},
            messages=[{"role": "user", "content": "Hi"}],
        )
    assert [block.type for block in answer.content] == ["text"]
    thought = omitted.content[0]
    assert thought.type == "thinking" and thought.thinking == "" and thought.signature


def test_a_conversation_moved_to_claude_is_sent_without_the_gateways_thinking(
    served: tuple[Proc, CompatUpstream], mock_upstream: Proc
) -> None:
    # Claude Code's `/model` (or a fallback) mid-loop: Claude refuses a thinking block it did
    # not sign (the mock as Anthropic does), and with thinking on wants the loop's assistant
    # message to start with one.
    gateway, _ = served
    with anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0) as claude:
        first = claude.messages.create(
            model="ds",
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "Hi"}],
        )
        thought = cast(ThinkingBlockParam, first.content[0].model_dump())
        loop: list[MessageParam] = [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [thought, CALL]},
            {"role": "user", "content": [RESULT]},
        ]
        answer = claude.messages.create(
            model="claude",
            max_tokens=2048,
            thinking={"type": "adaptive"},
            tools=TOOLS,
            messages=loop,
        )
        assert answer.content[0].type == "text"
        sent = _mock_body(mock_upstream)
        assert "thinking" not in sent and sent["messages"][1]["content"] == [CALL]
        # The next question: the loop is over, Claude thinks again.
        later: list[MessageParam] = [
            *loop,
            {"role": "assistant", "content": "Done."},
            {"role": "user", "content": "Thanks"},
        ]
        claude.messages.create(
            model="claude",
            max_tokens=2048,
            thinking={"type": "adaptive"},
            tools=TOOLS,
            messages=later,
        )
        sent = _mock_body(mock_upstream)
        assert sent["thinking"] == {"type": "adaptive"} and sent["messages"][1]["content"] == [CALL]


def _mock_body(mock_upstream: Proc) -> dict[str, Any]:
    """The body of the mock provider's latest request."""
    return dict(httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"])
