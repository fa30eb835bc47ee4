"""An OpenAI client's tool loop on a Claude model that thinks: the answer carries Claude's
signed thinking blocks in `reasoning_details`, the openai SDK sends the message back as it
came (the object itself, or a stream accumulated by its helper), and the gateway gives Claude
its blocks again, so the loop goes on thinking, on Fable 5 and Opus 5.5 too, which cannot be
asked not to think (the mock provider refuses a loop without the block as Anthropic does, and
signs its blocks, binding them to their conversation on the models that do). The blocks go
back only to the deployment that made them: another deployment's Claude and a chat upstream
are sent none."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from gateway.mock_provider.thinking_binding import bound_signature
from tests.e2e.claude_config import claude_models_config
from tests.procs import Proc, start_gateway

KEY = "sk-carried-thinking-test"
OTHER_KEY = "sk-carried-thinking-other"
MODELS = {
    "fable-5": "claude-fable-5",
    "opus-5-5": "claude-opus-5-5",
    "sonnet-5-5": "claude-sonnet-5-5",
    "opus-5": "claude-opus-5",
    "opus-4-8": "claude-opus-4-8",
    "sonnet-4-5": "claude-sonnet-4-5",
}
HI: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("carried-thinking")
    config = claude_models_config(mock_upstream.url, MODELS, KEY)
    # The same Claude from another provider, and a chat upstream.
    config += (
        f'\n[[providers]]\nname = "ant2"\ntype = "anthropic"\nbase_url = "{mock_upstream.url}"\n'
    )
    config += '\n[[models]]\nname = "opus-5-elsewhere"\n'
    config += '[[models.deployments]]\nprovider = "ant2"\nmodel = "claude-opus-5"\n'
    config += (
        f'\n[[providers]]\nname = "oai"\ntype = "openai"\nbase_url = "{mock_upstream.url}/v1"\n'
    )
    config += (
        '\n[[models]]\nname = "chat"\n[[models.deployments]]\nprovider = "oai"\nmodel = "gpt-4o"\n'
    )
    other = hashlib.sha256(OTHER_KEY.encode()).hexdigest()
    config += f'\n[[keys]]\nid = "other"\nkey_sha256 = "{other}"\n'
    (root / "gateway.toml").write_text(config)
    proc = start_gateway(root / "gateway.toml")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(gateway: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        yield sdk


def sent(mock_upstream: Proc) -> dict[str, Any]:
    """The body of the mock provider's latest request."""
    return dict(httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"])


def returned(message: Any, call_id: str) -> list[Any]:
    """The conversation that sends `message` back as it came, with its tool's result."""
    return [*HI, message, {"role": "tool", "tool_call_id": call_id, "content": "sunny"}]


@pytest.mark.parametrize("model", ["fable-5", "opus-5-5", "sonnet-5-5"])
def test_the_loop_goes_on_thinking_with_its_blocks_sent_back(
    client: openai.OpenAI, mock_upstream: Proc, model: str
) -> None:
    first = client.chat.completions.create(model=model, messages=HI, tools=[WEATHER])
    message = first.choices[0].message
    [call] = message.tool_calls or []
    asked = sent(mock_upstream)
    details = message.model_dump()["reasoning_details"]
    assert [(d["type"], d["format"]) for d in details] == [
        ("reasoning.text", "anthropic-claude-v1")
    ]
    assert details[0]["signature"].startswith("gw1-")  # sealed with the deployment
    if model != "fable-5":  # a block bound to its conversation (the mock signs it so)
        assert details[0]["signature"].endswith(bound_signature(None, asked["messages"], []))

    answer = client.chat.completions.create(
        model=model, messages=returned(message, call.id), tools=[WEATHER]
    )
    assert answer.choices[0].message.content == "Tool result: sunny"
    body = sent(mock_upstream)
    assistant = body["messages"][1]["content"]
    assert assistant[0]["type"] == "thinking"
    assert details[0]["signature"].endswith(assistant[0]["signature"])
    assert body.get("thinking", {}).get("type") not in ("disabled", "between_tools")


def test_a_streamed_loop_carries_its_blocks_as_the_sdk_accumulates_them(
    client: openai.OpenAI, mock_upstream: Proc
) -> None:
    with client.chat.completions.stream(model="opus-5-5", messages=HI, tools=[WEATHER]) as s:
        first = s.get_final_completion()
    message = first.choices[0].message
    [call] = message.tool_calls or []
    assert message.model_dump()["reasoning_details"][0]["type"] == "reasoning.text"
    again = returned(message.model_dump(exclude_none=True), call.id)
    with client.chat.completions.stream(model="opus-5-5", messages=again, tools=[WEATHER]) as s:
        answer = s.get_final_completion()
    assert answer.choices[0].message.content == "Tool result: sunny"
    assert sent(mock_upstream)["messages"][1]["content"][0]["type"] == "thinking"


def test_another_deployment_is_sent_no_block_and_a_chat_upstream_no_entry(
    client: openai.OpenAI, mock_upstream: Proc
) -> None:
    first = client.chat.completions.create(model="opus-5", messages=HI, tools=[WEATHER])
    message = first.choices[0].message.model_dump(exclude_none=True)
    [call] = first.choices[0].message.tool_calls or []
    assert message["reasoning_details"]

    answer = client.chat.completions.create(
        model="opus-5-elsewhere", messages=returned(message, call.id), tools=[WEATHER]
    )
    assert answer.choices[0].message.content == "Tool result: sunny"
    body = sent(mock_upstream)
    assert [b["type"] for b in body["messages"][1]["content"]] == ["tool_use"]
    assert body["thinking"] == {"type": "disabled"}  # Opus 5 can be asked not to think

    client.chat.completions.create(model="chat", messages=returned(message, call.id))
    chat_body = sent(mock_upstream)
    assert chat_body["model"] == "gpt-4o"
    assert "reasoning_details" not in chat_body["messages"][1]


RESPONSES_TOOLS: Any = [
    {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": False}
]


def continued(output: list[Any], call_id: str) -> list[Any]:
    """A Responses conversation sending the answer's items back, with the call's output."""
    items = [item.model_dump(exclude_none=True) for item in output]
    return [*HI, *items, {"type": "function_call_output", "call_id": call_id, "output": "sunny"}]


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_clients_loop_carries_the_blocks_in_reasoning_items(
    client: openai.OpenAI, mock_upstream: Proc, stream: bool
) -> None:
    """Codex's way: `include: ["reasoning.encrypted_content"]`, nothing stored, every item of
    the answer sent back in the next input."""
    asked: Any = {"include": ["reasoning.encrypted_content"], "store": False}
    if stream:
        with client.responses.stream(
            model="fable-5", input=HI, tools=RESPONSES_TOOLS, **asked
        ) as events:
            first = events.get_final_response()
    else:
        first = client.responses.create(model="fable-5", input=HI, tools=RESPONSES_TOOLS, **asked)
    kinds = [item.type for item in first.output]
    assert kinds == ["reasoning", "function_call"]
    encrypted = first.output[0].model_dump()["encrypted_content"]
    assert encrypted.startswith("anthropic-claude-v1:")
    call_id = first.output[1].model_dump()["call_id"]

    answer = client.responses.create(
        model="fable-5", input=continued(first.output, call_id), tools=RESPONSES_TOOLS, **asked
    )
    assert answer.output_text == "Tool result: sunny"
    assistant = sent(mock_upstream)["messages"][1]["content"]
    assert [block["type"] for block in assistant] == ["thinking", "tool_use"]


def test_a_responses_client_that_asks_no_encrypted_reasoning_gets_none(
    client: openai.OpenAI, mock_upstream: Proc
) -> None:
    first = client.responses.create(model="opus-5", input=HI, tools=RESPONSES_TOOLS)
    assert [item.type for item in first.output] == ["function_call"]
    call_id = first.output[0].model_dump()["call_id"]
    client.responses.create(
        model="opus-5", input=continued(first.output, call_id), tools=RESPONSES_TOOLS
    )
    assert sent(mock_upstream)["thinking"] == {"type": "disabled"}


@pytest.mark.parametrize(
    ("model", "thinking"),
    [
        ("opus-4-8", {"type": "adaptive"}),
        ("sonnet-4-5", {"type": "enabled", "budget_tokens": 16_384}),
    ],
)
def test_a_reasoning_effort_makes_claude_4_think_through_the_loop(
    client: openai.OpenAI, mock_upstream: Proc, model: str, thinking: dict[str, Any]
) -> None:
    """LangChain's `ChatOpenAI(reasoning_effort="high", temperature=0.3)` on Claude 4: Claude
    thinks (it did not before), without the temperature thinking refuses."""
    asked: Any = {"reasoning_effort": "high", "temperature": 0.3, "tools": [WEATHER]}
    first = client.chat.completions.create(model=model, messages=HI, **asked)
    body = sent(mock_upstream)
    assert body["thinking"] == thinking and "temperature" not in body
    message = first.choices[0].message
    [call] = message.tool_calls or []
    assert message.model_dump()["reasoning_details"][0]["type"] == "reasoning.text"
    answer = client.chat.completions.create(
        model=model, messages=returned(message, call.id), **asked
    )
    assert answer.choices[0].message.content == "Tool result: sunny"
    again = sent(mock_upstream)
    assert again["thinking"] == thinking
    assert again["messages"][1]["content"][0]["type"] == "thinking"


@pytest.mark.parametrize("stream", [False, True])
def test_langchains_loop_keeps_thinking_though_it_sends_no_blocks_back(
    gateway: Proc, mock_upstream: Proc, stream: bool
) -> None:
    """LangChain's `ChatOpenAI` keeps no `reasoning_details`: the gateway kept the blocks under
    the tool call's id and gives them back; Fable 5 refused the loop before."""
    with httpx.Client() as http:
        model = ChatOpenAI(
            model="fable-5",
            base_url=gateway.url + "/v1",
            api_key=SecretStr(KEY),
            http_client=http,
            max_retries=0,
            streaming=stream,
        ).bind_tools([dict(WEATHER)])
        question = HumanMessage("Weather in Paris?")
        call = model.invoke([question])
        assert isinstance(call, AIMessage) and call.tool_calls
        assert "reasoning_details" not in str(call.additional_kwargs)  # LangChain kept none
        result = ToolMessage("sunny", tool_call_id=call.tool_calls[0]["id"])
        assert model.invoke([question, call, result]).text == "Tool result: sunny"
    assistant = sent(mock_upstream)["messages"][1]["content"]
    assert [block["type"] for block in assistant] == ["thinking", "tool_use"]


def test_another_keys_request_gets_no_kept_blocks(
    client: openai.OpenAI, gateway: Proc, mock_upstream: Proc
) -> None:
    first = client.chat.completions.create(model="opus-5", messages=HI, tools=[WEATHER])
    [call] = first.choices[0].message.tool_calls or []
    written: Any = {"role": "assistant", "tool_calls": [call.model_dump()]}  # no blocks
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=OTHER_KEY, max_retries=0) as other:
        other.chat.completions.create(model="opus-5", messages=returned(written, call.id))
    body = sent(mock_upstream)
    assert [b["type"] for b in body["messages"][1]["content"]] == ["tool_use"]
    assert body["thinking"] == {"type": "disabled"}  # the fallback for a loop without blocks
    client.chat.completions.create(model="opus-5", messages=returned(written, call.id))
    assert sent(mock_upstream)["messages"][1]["content"][0]["type"] == "thinking"  # its own key
