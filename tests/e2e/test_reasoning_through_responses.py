"""A reasoning model served through the Responses API (gpt-5.1-codex on the mock, which answers
its reasoning as OpenAI does: `responses_reasoning`) keeps its thought across a tool loop of a
chat or an Anthropic client: its encrypted reasoning comes back on the answer (`reasoning_details`;
an Anthropic client that turned thinking on gets a `thinking` block carrying it, its summary as
the text) and goes back with the next request as a `reasoning` item, to the deployment that made
it only (another provider's could not be read: OpenAI's 400)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, cast

import anthropic
import httpx
import openai
import pytest
from anthropic.types import MessageParam, ThinkingBlockParam, ToolParam, ToolUseBlockParam
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from gateway.mock_provider.responses_reasoning import SUMMARY
from gateway.providers.anthropic.thinking_blocks import OPENAI_REASONING_PREFIX
from tests.procs import Proc, start_gateway

KEY = "sk-reasoning-through-responses"
WEATHER: ChatCompletionToolParam = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}
CLAUDE_TOOLS: list[ToolParam] = [{"name": "get_weather", "input_schema": {"type": "object"}}]
QUESTION = "Weather in Paris?"


def _config(upstream: str) -> str:
    text = ""
    for provider in ("oai", "other-org"):
        text += f'[[providers]]\nname = "{provider}"\ntype = "openai"\n'
        text += f'base_url = "{upstream}/v1"\nresponses = true\n\n'
    for name, provider, model in (
        ("codex", "oai", "gpt-5.1-codex"),
        ("codex-elsewhere", "other-org", "gpt-5.1-codex"),
        ("chat", "oai", "mock-small"),
    ):
        text += f'[[models]]\nname = "{name}"\n[[models.deployments]]\n'
        text += f'provider = "{provider}"\nmodel = "{model}"\n\n'
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"\n'


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("reasoning-through-responses")
    (root / "gateway.toml").write_text(_config(mock_upstream.url))
    proc = start_gateway(root / "gateway.toml")
    yield proc
    proc.stop()


def _sent(mock_upstream: Proc) -> dict[str, Any]:
    """The body of the mock's latest request."""
    return dict(httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"])


def _reasoning_sent(mock_upstream: Proc) -> list[dict[str, Any]]:
    return [item for item in _sent(mock_upstream)["input"] if item.get("type") == "reasoning"]


def test_a_chat_clients_tool_loop_sends_the_reasoning_back(
    gateway: Proc, mock_upstream: Proc
) -> None:
    ask: list[ChatCompletionMessageParam] = [{"role": "user", "content": QUESTION}]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        first = sdk.chat.completions.create(model="codex", messages=ask, tools=[WEATHER])
        assert _sent(mock_upstream)["include"] == ["reasoning.encrypted_content"]
        message = first.choices[0].message
        assert message.tool_calls and message.model_extra
        [detail] = message.model_extra["reasoning_details"]
        assert detail["type"] == "reasoning.encrypted"
        # The mock's encrypted reasoning, sealed with the deployment it came from.
        origin, made = detail["data"].split("~", 1)
        assert origin.startswith("gw1-") and made
        kept = cast(ChatCompletionMessageParam, message.model_dump(exclude_none=True))
        result: ChatCompletionMessageParam = {
            "role": "tool",
            "tool_call_id": message.tool_calls[0].id,
            "content": "sunny",
        }
        loop = [*ask, kept, result]
        second = sdk.chat.completions.create(model="codex", messages=loop, tools=[WEATHER])
        assert second.choices[0].message.content == "Tool result: sunny"
        assert [item["encrypted_content"] for item in _reasoning_sent(mock_upstream)] == [made]
        # Another provider's deployment could not read it: it is not sent there.
        elsewhere = sdk.chat.completions.create(
            model="codex-elsewhere", messages=loop, tools=[WEATHER]
        )
        assert elsewhere.choices[0].message.content == "Tool result: sunny"
        assert _reasoning_sent(mock_upstream) == []
        # Nor to a chat completions deployment (OpenAI refuses a message field it does not know).
        sdk.chat.completions.create(model="chat", messages=loop, tools=[WEATHER])
        sent = _sent(mock_upstream)["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
        assert "reasoning_details" not in sent[1] and sent[1]["tool_calls"]


@pytest.mark.parametrize("stream", [False, True])
def test_claude_codes_tool_loop_sees_the_summary_and_sends_the_reasoning_back(
    gateway: Proc, mock_upstream: Proc, stream: bool
) -> None:
    question: list[MessageParam] = [{"role": "user", "content": QUESTION}]
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:

        def ask(messages: list[MessageParam]) -> anthropic.types.Message:
            if not stream:
                return claude.messages.create(
                    model="codex",
                    max_tokens=2048,
                    messages=messages,
                    tools=CLAUDE_TOOLS,
                    thinking={"type": "adaptive"},
                )
            with claude.messages.stream(
                model="codex",
                max_tokens=2048,
                messages=messages,
                tools=CLAUDE_TOOLS,
                thinking={"type": "adaptive"},
            ) as events:
                return events.get_final_message()

        first = ask(question)
        sent = _sent(mock_upstream)
        assert sent["reasoning"]["summary"] == "auto"
        thought, call = first.content
        assert thought.type == "thinking" and thought.thinking == SUMMARY
        assert thought.signature.startswith(OPENAI_REASONING_PREFIX)
        assert call.type == "tool_use"
        used: list[ThinkingBlockParam | ToolUseBlockParam] = [
            cast(ThinkingBlockParam, thought.model_dump()),
            cast(ToolUseBlockParam, call.model_dump()),
        ]
        second = ask(
            [
                *question,
                {"role": "assistant", "content": used},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "ok"}],
                },
            ]
        )
    [item] = _reasoning_sent(mock_upstream)
    assert item["encrypted_content"] and item["summary"] == []
    assert second.content[-1].type == "text" and second.content[-1].text == "Tool result: ok"
