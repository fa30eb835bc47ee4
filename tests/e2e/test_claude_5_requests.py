"""Requests to the Claude 5 generation, which refuses what older Claudes took: Opus 5.5, Sonnet
5.5 and Fable 5.1 refuse forced tool use; Fable 5 and Opus 5.5 refuse thinking off, Sonnet 5.5
says it `between_tools`, Opus 5 takes it off only at effort `high` or below (Anthropic's 400s,
which the mock provider answers too). Through the gateway, the real SDKs' requests (openai's
`chat.completions.parse`, `tool_choice="required"`, `reasoning_effort="none"`, the Responses
API's JSON format, LangChain's `with_structured_output` on both SDKs, the anthropic SDK's
thinking off) are answered, sent what each model takes; and a conversation whose prefix the
gateway changed keeps going on a model that binds thinking blocks to their conversation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic.types import MessageParam
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from gateway.mock_provider.thinking_binding import bound_signature
from tests.e2e.claude_config import claude_models_config
from tests.procs import Proc, start_gateway

KEY = "sk-claude-5-test"
MODELS = {
    "opus-5": "claude-opus-5",
    "opus-5-5": "claude-opus-5-5",
    "sonnet-5-5": "claude-sonnet-5-5",
    "fable-5-1": "claude-fable-5-1",
}
REFUSING_FORCED_TOOLS = ["opus-5-5", "sonnet-5-5", "fable-5-1"]
HI: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


class City(BaseModel):
    name: str
    population: int


class Trip(BaseModel):
    """A trip: its cities, each an object of its own (a nested schema)."""

    title: str
    cities: list[City]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("claude-5")
    (root / "gateway.toml").write_text(claude_models_config(mock_upstream.url, MODELS, KEY))
    proc = start_gateway(root / "gateway.toml")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(gateway: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def claude(gateway: Proc) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


def sent(mock_upstream: Proc) -> dict[str, Any]:
    """The body of the mock provider's latest request."""
    request = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]
    assert request["path"] == "/v1/messages"
    return dict(request["body"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"tool_choice": {"type": "any"}}, "forced tool use is not supported"),
        ({"thinking": {"type": "disabled"}}, '"thinking.type.disabled" is not supported'),
        (
            {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
            "'additionalProperties' must be explicitly set to false",
        ),
    ],
)
def test_the_mock_refuses_them_as_anthropic_does(
    mock_upstream: Proc, body: dict[str, Any], message: str
) -> None:
    body = {"model": "claude-opus-5-5", "max_tokens": 50, **body}
    body["messages"] = [{"role": "user", "content": "hi"}]
    body["tools"] = [{"name": "f", "input_schema": {"type": "object"}}]
    answer = httpx.post(mock_upstream.url + "/v1/messages", json=body)
    assert answer.status_code == 400
    assert message in answer.json()["error"]["message"]


@pytest.mark.parametrize("model", REFUSING_FORCED_TOOLS)
def test_a_parsed_answer_comes_from_claudes_json_format(
    client: openai.OpenAI, mock_upstream: Proc, model: str
) -> None:
    answer = client.chat.completions.parse(model=model, messages=HI, response_format=Trip)
    trip = answer.choices[0].message.parsed
    assert isinstance(trip, Trip) and trip.cities
    body = sent(mock_upstream)
    assert "tools" not in body and "tool_choice" not in body
    schema = body["output_config"]["format"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["City"]["additionalProperties"] is False


def test_an_older_claude_still_gets_the_forced_tool(
    client: openai.OpenAI, mock_upstream: Proc
) -> None:
    answer = client.chat.completions.parse(model="opus-5", messages=HI, response_format=Trip)
    assert isinstance(answer.choices[0].message.parsed, Trip)
    assert sent(mock_upstream)["tool_choice"] == {"type": "tool", "name": "structured_output"}


def test_a_streamed_json_schema_answer_is_json(client: openai.OpenAI) -> None:
    schema = Trip.model_json_schema()
    with client.chat.completions.create(
        model="opus-5-5",
        messages=HI,
        stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "trip", "schema": schema}},
    ) as stream:
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert Trip.model_validate(json.loads(text)).title


@pytest.mark.parametrize("model", REFUSING_FORCED_TOOLS)
@pytest.mark.parametrize("choice", ["required", "named"])
def test_a_forced_tool_is_asked_for_and_called(
    client: openai.OpenAI, mock_upstream: Proc, model: str, choice: str
) -> None:
    tool_choice: Any = (
        "required"
        if choice == "required"
        else {"type": "function", "function": WEATHER["function"]}
    )
    answer = client.chat.completions.create(
        model=model, messages=HI, tools=[WEATHER], tool_choice=tool_choice
    )
    calls = answer.choices[0].message.tool_calls or []
    assert [call.model_dump()["function"]["name"] for call in calls] == ["get_weather"]
    body = sent(mock_upstream)
    assert body["tool_choice"] == {"type": "auto"}
    assert "calling" in body["system"]


@pytest.mark.parametrize("model", ["opus-5", "sonnet-5-5"])
def test_an_openai_clients_tool_loop_goes_on_on_a_model_that_thinks_by_default(
    client: openai.OpenAI, mock_upstream: Proc, model: str
) -> None:
    """A loop whose thinking blocks neither the client sends back (`reasoning_details`) nor
    the gateway kept (a conversation that came from elsewhere: a call id it never answered),
    which a thinking Claude wants ("a final `assistant` message must start with a thinking
    block"): the request returning tool results goes with thinking off, in the model's word."""
    first = client.chat.completions.create(model=model, messages=HI, tools=[WEATHER])
    [call] = first.choices[0].message.tool_calls or []
    assert "thinking" not in sent(mock_upstream)
    elsewhere = {**call.model_dump(), "id": "toolu_made_elsewhere"}
    history: Any = [
        *HI,
        {"role": "assistant", "tool_calls": [elsewhere]},
        {"role": "tool", "tool_call_id": elsewhere["id"], "content": "sunny"},
    ]
    answer = client.chat.completions.create(model=model, messages=history, tools=[WEATHER])
    assert answer.choices[0].message.content == "Tool result: sunny"
    assert sent(mock_upstream)["thinking"]["type"] in ("disabled", "between_tools")


def test_the_responses_api_gets_its_json_and_its_forced_tool(
    client: openai.OpenAI, mock_upstream: Proc
) -> None:
    response = client.responses.parse(model="opus-5-5", input="Plan a trip.", text_format=Trip)
    assert isinstance(response.output_parsed, Trip)
    assert "format" in sent(mock_upstream)["output_config"]
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    forced = client.responses.create(
        model="fable-5-1", input="Weather in Paris?", tools=tools, tool_choice="required"
    )
    assert [item.type for item in forced.output] == ["function_call"]


@pytest.mark.parametrize(
    ("model", "thinking"),
    [
        ("opus-5", {"type": "disabled"}),
        ("sonnet-5-5", {"type": "between_tools"}),
        ("opus-5-5", None),
    ],
)
def test_no_reasoning_turns_thinking_off_in_each_models_word(
    client: openai.OpenAI, mock_upstream: Proc, model: str, thinking: dict[str, str] | None
) -> None:
    answer = client.chat.completions.create(model=model, messages=HI, reasoning_effort="none")
    assert answer.choices[0].message.content
    body = sent(mock_upstream)
    assert body.get("thinking") == thinking
    assert body["output_config"] == {"effort": "low"}


@pytest.mark.parametrize(
    ("model", "thinking", "effort"),
    [
        ("opus-5", {"type": "disabled"}, "high"),
        ("sonnet-5-5", {"type": "between_tools"}, "high"),
        ("opus-5-5", None, "xhigh"),
        ("fable-5-1", None, "xhigh"),
    ],
)
def test_an_anthropic_clients_thinking_off_is_sent_as_each_model_takes_it(
    claude: anthropic.Anthropic,
    mock_upstream: Proc,
    model: str,
    thinking: dict[str, str] | None,
    effort: str,
) -> None:
    """Written for Opus 4.8, which took thinking off at any effort, with a forced tool."""
    message = claude.messages.create(
        model=model,
        max_tokens=200,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        thinking={"type": "disabled"},
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        tool_choice={"type": "tool", "name": "get_weather"},
        extra_body={"output_config": {"effort": "xhigh"}},
    )
    # A model that always thinks answers with its thinking block first.
    blocks = ["thinking", "tool_use"] if thinking is None else ["tool_use"]
    assert [block.type for block in message.content] == blocks
    body = sent(mock_upstream)
    assert body.get("thinking") == thinking
    assert body["output_config"] == {"effort": effort}


def test_langchain_structured_outputs_on_opus_5_5(gateway: Proc) -> None:
    """ChatAnthropic forces the schema's tool; ChatOpenAI asks for a JSON schema format."""
    on_anthropic = ChatAnthropic(
        model_name="opus-5-5",
        base_url=gateway.url,
        api_key=SecretStr(KEY),
        max_retries=0,
        max_tokens_to_sample=200,
        timeout=None,
        stop=None,
    )
    assert isinstance(on_anthropic.with_structured_output(City).invoke("Paris?"), City)
    on_openai = ChatOpenAI(
        model="opus-5-5", base_url=gateway.url + "/v1", api_key=SecretStr(KEY), max_retries=0
    )
    assert isinstance(on_openai.with_structured_output(Trip).invoke("A trip?"), Trip)


def test_a_conversation_whose_prefix_the_gateway_changed_goes_on(
    claude: anthropic.Anthropic, mock_upstream: Proc
) -> None:
    """An agent forces its final tool only on the last turn: the gateway's sentence asking for
    the call changes the system prompt the earlier thinking block was made after (the mock signs
    blocks as Opus 5.5 binds them), which Opus 5.5 would refuse on every retry."""
    system = "You are a weather agent."
    ask: MessageParam = {"role": "user", "content": "Weather in Paris?"}
    thought = {"type": "thinking", "thinking": "", "signature": bound_signature(system, [ask], [])}
    call = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
    history: Any = [ask, {"role": "assistant", "content": [thought, call]}]
    tools: Any = [
        {"name": "get_weather", "input_schema": {"type": "object"}},
        {"name": "complete_task", "input_schema": {"type": "object"}},
    ]
    messages: Any = [*history, {"role": "user", "content": [result]}]
    message = claude.messages.create(
        model="opus-5-5",
        max_tokens=200,
        system=system,
        messages=messages,
        tools=tools,
        tool_choice={"type": "tool", "name": "complete_task"},
    )
    assert message.content
    body = sent(mock_upstream)
    assert body["system"].startswith(system) and body["system"] != system
    assert body["thinking"]["block_binding"] == {"prefix_mismatch_behavior": "drop_block"}


@pytest.mark.parametrize(("model", "kept"), [("opus-5", False), ("opus-5-5", True)])
def test_claude_codes_per_turn_effort_reaches_a_model_without_it_as_the_requests(
    claude: anthropic.Anthropic, mock_upstream: Proc, model: str, kept: bool
) -> None:
    """Claude Code's per-turn effort (a system turn's `output_config`, beta
    `per-turn-control-2026-07-01`), which Opus 5 refuses ("messages.N.output_config: Extra
    inputs are not permitted"): the request's effort there, the turn's where it is taken."""
    messages: Any = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Plan the refactor."},
        {"role": "system", "content": [], "output_config": {"effort": "low"}},
    ]
    message = claude.beta.messages.create(
        model=model,
        max_tokens=200,
        messages=messages,
        betas=["per-turn-control-2026-07-01", "mid-conversation-system-2026-04-07"],
    )
    assert message.content
    body = sent(mock_upstream)
    assert ("output_config" in body["messages"][-1]) is kept
    assert body.get("output_config") == (None if kept else {"effort": "low"})


def test_an_unsigned_thinking_block_replayed_by_a_client_is_left_out(
    claude: anthropic.Anthropic, mock_upstream: Proc
) -> None:
    """What a client keeps from another proxy or an Anthropic-compatible server (no
    `signature`): Claude answers "thinking.signature: Field required"; the block is left out."""
    unsigned = [{"type": "thinking", "thinking": "Hm."}, {"type": "text", "text": "Sunny."}]
    history: Any = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": unsigned},
        {"role": "user", "content": "And tomorrow?"},
    ]
    message = claude.messages.create(model="opus-5", max_tokens=200, messages=history)
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert sent(mock_upstream)["messages"][1]["content"] == [{"type": "text", "text": "Sunny."}]
    refused = httpx.post(
        mock_upstream.url + "/v1/messages",
        json={"model": "claude-opus-5", "max_tokens": 50, "messages": history},
    )
    assert "thinking.signature: Field required" in refused.json()["error"]["message"]
