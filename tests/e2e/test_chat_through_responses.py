"""Chat completions and Anthropic clients of a deployment with `api = "responses"`, served
through the upstream's Responses API (the mock provider's), with the real `openai` and
`anthropic` SDKs: text, streams with their usage, tool calls and their results, structured
output, and what the Responses API has no place for refused with a 400 naming it. The same
conversation asked of a chat deployment of the same mock gets the same answer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pydantic
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from pydantic import SecretStr

from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_gateway

KEY = "sk-chat-through-responses"
HI: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Tell me about Paris"},
]
WEATHER: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


class Weather(pydantic.BaseModel):
    city: str
    celsius: int


def _config(upstream: str, log_path: Path) -> str:
    text = f'[logging]\npath = "{log_path}"\n\n'
    text += f'[[providers]]\nname = "oai"\ntype = "openai"\nbase_url = "{upstream}/v1"\n'
    text += "responses = true\n\n"
    for name, model, extra in (
        ("chat", "mock-small", "web_search_cost_per_1k = 10.0\n"),
        ("bridged", "mock-small", 'api = "responses"\n'),
        ("codex", "gpt-5.1-codex", ""),  # `api = "auto"`: a Responses-only model's name
        ("codex-as-chat", "gpt-5.1-codex", 'api = "chat"\n'),
        ("sol", "gpt-5.6-sol", "reasoning = true\n"),  # `api = "auto"`
        ("sol-6", "gpt-6-sol", "reasoning = true\n"),  # refuses in other words
    ):
        text += f'[[models]]\nname = "{name}"\n[[models.deployments]]\nprovider = "oai"\n'
        text += f'model = "{model}"\n{extra}\n'
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"\n'


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("chat-through-responses")
    (root / "gateway.toml").write_text(_config(mock_upstream.url, root / "requests.jsonl"))
    proc = start_gateway(root / "gateway.toml")
    proc.log_path = root / "requests.jsonl"
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(gateway: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        yield sdk


def last_request(mock_upstream: Proc) -> dict[str, Any]:
    return dict(httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"])


def test_a_chat_request_is_answered_through_the_responses_api(
    client: openai.OpenAI, mock_upstream: Proc
) -> None:
    answer = client.chat.completions.create(model="bridged", messages=HI, max_tokens=200)
    sent = last_request(mock_upstream)
    assert sent["path"] == "/v1/responses"
    assert sent["body"]["store"] is False and sent["body"]["max_output_tokens"] == 200
    assert [item["role"] for item in sent["body"]["input"]] == ["system", "user"]
    direct = client.chat.completions.create(model="chat", messages=HI, max_tokens=200)
    assert answer.choices[0].message.content == direct.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop"
    assert answer.object == "chat.completion" and answer.id.startswith("chatcmpl-resp_")
    assert answer.usage is not None and direct.usage is not None
    assert answer.usage.completion_tokens == direct.usage.completion_tokens


def test_a_stream_is_chat_chunks_with_the_usage_asked_for(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="bridged", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    direct = client.chat.completions.create(model="chat", messages=HI)
    assert text == direct.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_and_their_results(client: openai.OpenAI, stream: bool) -> None:
    question: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Weather?"}]
    if stream:
        chunks = list(
            client.chat.completions.create(
                model="bridged", messages=question, tools=[WEATHER], stream=True
            )
        )
        calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices]
        pieces = [call for delta in calls if delta for call in delta]
        call_id = next(p.id for p in pieces if p.id)
        name = next(p.function.name for p in pieces if p.function and p.function.name)
        arguments = "".join(p.function.arguments or "" for p in pieces if p.function)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        answer = client.chat.completions.create(model="bridged", messages=question, tools=[WEATHER])
        [call] = answer.choices[0].message.tool_calls or []
        assert call.type == "function"
        call_id, name, arguments = call.id, call.function.name, call.function.arguments
        finish = answer.choices[0].finish_reason
    assert (name, arguments, finish) == ("get_weather", '{"city":"test"}', "tool_calls")
    history: list[ChatCompletionMessageParam] = [
        *question,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "sunny"},
    ]
    second = client.chat.completions.create(model="bridged", messages=history, tools=[WEATHER])
    assert second.choices[0].message.content == "Tool result: sunny"


def test_structured_output_is_parsed(client: openai.OpenAI) -> None:
    parsed = client.chat.completions.parse(
        model="bridged",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        response_format=Weather,
    )
    assert parsed.choices[0].message.parsed == Weather(city="test", celsius=1)


@pytest.mark.parametrize(("param", "value"), [("stop", ["\n"]), ("n", 2), ("seed", 7)])
def test_what_the_responses_api_has_no_place_for_is_refused(
    client: openai.OpenAI, param: str, value: object
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="bridged", messages=HI, extra_body={param: value})
    assert isinstance(refused.value.body, dict) and refused.value.body["param"] == param
    assert "Responses API" in refused.value.message


@pytest.mark.parametrize("stream", [False, True])
def test_an_anthropic_client_is_answered_through_the_responses_api(
    gateway: Proc, mock_upstream: Proc, stream: bool
) -> None:
    tools: list[anthropic.types.ToolParam] = [
        {"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}
    ]
    question: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Weather?"}]
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:

        def ask(messages: list[anthropic.types.MessageParam]) -> anthropic.types.Message:
            if not stream:
                return claude.messages.create(
                    model="bridged", max_tokens=200, messages=messages, tools=tools
                )
            with claude.messages.stream(
                model="bridged", max_tokens=200, messages=messages, tools=tools
            ) as events:
                return events.get_final_message()

        first = ask(question)
        assert last_request(mock_upstream)["path"] == "/v1/responses"
        [call] = first.content
        assert call.type == "tool_use" and first.stop_reason == "tool_use"
        assert (call.name, call.input) == ("get_weather", {"city": "test"})
        assert first.usage.output_tokens > 0
        result: anthropic.types.ToolResultBlockParam = {
            "type": "tool_result",
            "tool_use_id": call.id,
            "content": "sunny",
        }
        used: anthropic.types.ToolUseBlockParam = {
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": call.input,
        }
        second = ask(
            [
                *question,
                {"role": "assistant", "content": [used]},
                {"role": "user", "content": [result]},
            ]
        )
    assert second.content[0].type == "text" and second.content[0].text == "Tool result: sunny"


def test_langchains_chat_model_with_tools_and_a_stream(gateway: Proc) -> None:
    # LangChain's ChatOpenAI sends its own defaults (`stream_options`, `n`...): all taken.
    with httpx.Client() as http:
        model = ChatOpenAI(
            model="bridged",
            base_url=gateway.url + "/v1",
            api_key=SecretStr(KEY),
            http_client=http,
            max_retries=0,
            stream_usage=True,
        )
        question = HumanMessage("Weather?")
        with_tools = model.bind_tools([dict(WEATHER)])
        call = with_tools.invoke([question])
        assert isinstance(call, AIMessage)
        assert [c["name"] for c in call.tool_calls] == ["get_weather"]
        result = ToolMessage("sunny", tool_call_id=call.tool_calls[0]["id"])
        assert with_tools.invoke([question, call, result]).text == "Tool result: sunny"
        chunks = list(model.stream([HumanMessage("Tell me about Paris")]))
        assert "".join(chunk.text for chunk in chunks)
        usage = [c.usage_metadata for c in chunks if c.usage_metadata]
        assert usage and usage[-1]["output_tokens"] > 0


def test_a_responses_only_model_is_asked_through_the_responses_api_by_default(
    client: openai.OpenAI, gateway: Proc, mock_upstream: Proc
) -> None:
    # gpt-5.1-codex is served by OpenAI's Responses API only: `api = "auto"` knows it by name.
    answer = client.chat.completions.create(model="codex", messages=HI)
    assert answer.choices[0].message.content
    assert last_request(mock_upstream)["path"] == "/v1/responses"
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:
        claude.messages.create(
            model="codex", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
    assert last_request(mock_upstream)["path"] == "/v1/responses"
    # Asked through chat completions, it is refused as OpenAI refuses it.
    with pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(model="codex-as-chat", messages=HI)
    assert "only supported in v1/responses" in refused.value.message
    assert last_request(mock_upstream)["path"] == "/v1/chat/completions"


# Claude Code's WebSearch: a request of its own offering only the web search tool, the tool
# chosen, and the query in a user message.
SEARCH_TOOL: anthropic.types.WebSearchTool20250305Param = {
    "type": "web_search_20250305",
    "name": "web_search",
    "max_uses": 8,
    "allowed_domains": ["docs.example.org"],
}
QUERY = "Perform a web search for the query: gateway release notes"


@pytest.mark.parametrize("stream", [False, True])
def test_an_anthropic_clients_web_search_is_the_responses_apis(
    gateway: Proc, mock_upstream: Proc, stream: bool
) -> None:
    """Before, a 400: "Anthropic tool 'web_search_20250305' cannot run on an OpenAI-compatible
    upstream". `chat` is a chat deployment (`api = "auto"`): the search takes it through the
    Responses API, whose search answers as Claude's does."""
    asked: dict[str, Any] = {
        "model": "chat",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": QUERY}],
        "tools": [SEARCH_TOOL],
        "tool_choice": {"type": "tool", "name": "web_search"},
    }
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:
        if stream:
            with claude.messages.stream(**asked) as events:
                answer = events.get_final_message()
                request_id = events.response.headers["x-request-id"]
        else:
            raw = claude.messages.with_raw_response.create(**asked)
            answer, request_id = raw.parse(), raw.headers["x-request-id"]
    upstream = last_request(mock_upstream)
    assert upstream["path"] == "/v1/responses"
    body = upstream["body"]
    assert body["tools"] == [
        {"type": "web_search", "filters": {"allowed_domains": ["docs.example.org"]}}
    ]
    assert "tool_choice" not in body and "web_search_call.action.sources" in body["include"]
    use, result, text = answer.content
    assert use.type == "server_tool_use" and use.input == {"query": QUERY}
    assert result.type == "web_search_tool_result" and result.tool_use_id == use.id
    assert isinstance(result.content, list)
    [found] = result.content
    url = found.url
    assert url.startswith("https://search.example/")
    assert text.type == "text" and text.text.endswith(f"({url})")
    assert text.citations is not None
    [cited] = text.citations
    assert cited.type == "web_search_result_location"
    assert (cited.url, cited.cited_text) == (url, url)
    # The search is billed apart from the tokens (priced at 0 here): $10 per 1,000.
    assert gateway.log_path is not None
    record = wait_for_record(gateway.log_path, request_id)
    assert record["web_searches"] == 1 and record["cost_usd"] == pytest.approx(0.01)


def test_a_chat_clients_web_search_options_are_the_search_tool(
    client: openai.OpenAI, mock_upstream: Proc
) -> None:
    """Before, a 400: "'web_search_options' is not supported by this deployment"."""
    answer = client.chat.completions.create(
        model="bridged", messages=HI, web_search_options={"search_context_size": "low"}
    )
    body = last_request(mock_upstream)["body"]
    assert body["tools"] == [{"type": "web_search", "search_context_size": "low"}]
    message = answer.choices[0].message
    assert message.annotations is not None
    [annotation] = message.annotations
    content = message.content or ""
    cited = annotation.url_citation
    assert content[cited.start_index : cited.end_index] == cited.url
    assert "web_searches" not in (message.model_extra or {})


def test_a_responses_only_model_is_asked_as_the_reasoning_model_it_is(
    client: openai.OpenAI, gateway: Proc, mock_upstream: Proc
) -> None:
    """`codex` has no `reasoning = true`: its name says it reasons. Before, the sampling a
    client sends went on (OpenAI's 400 "Unsupported parameter: 'temperature' is not supported
    with this model.", as the mock answers) and Claude Code's effort was left out."""
    answer = client.chat.completions.create(model="codex", messages=HI, temperature=0.2)
    assert answer.choices[0].message.content
    assert "temperature" not in last_request(mock_upstream)["body"]
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:
        claude.messages.create(
            model="codex",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            output_config={"effort": "high"},
            extra_body={"temperature": 1},  # (Claude Code's; this SDK has no parameter for it)
        )
    body = last_request(mock_upstream)["body"]
    assert "temperature" not in body and body["reasoning"]["effort"] == "high"


@pytest.mark.parametrize("model", ["sol", "sol-6"])
def test_gpt_5_6_tools_with_reasoning_go_through_the_responses_api_once_it_said_so(
    client: openai.OpenAI, mock_upstream: Proc, model: str
) -> None:
    """gpt-5.6 takes function tools with reasoning on the Responses API only (OpenAI's 400
    "Function tools with reasoning_effort are not supported for gpt-5.6-sol in
    /v1/chat/completions. Please use /v1/responses instead.", as the mock answers; gpt-6-sol's
    ends "To use function tools, use /v1/responses or set reasoning_effort to 'none'."). Before,
    an `auto` deployment passed that 400 on; now it asks again there, and goes there first
    after (a stream as well)."""
    before = int(httpx.get(mock_upstream.url + "/_mock/stats").json()["requests"])
    with client.chat.completions.stream(
        model=model, messages=HI, tools=[WEATHER], reasoning_effort="high"
    ) as stream:
        streamed = stream.get_final_completion()
    assert streamed.choices[0].message.tool_calls
    asked = int(httpx.get(mock_upstream.url + "/_mock/stats").json()["requests"]) - before
    assert asked == 2 and last_request(mock_upstream)["path"] == "/v1/responses"
    answer = client.chat.completions.create(
        model=model, messages=HI, tools=[WEATHER], reasoning_effort="high"
    )
    [call] = answer.choices[0].message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    asked = int(httpx.get(mock_upstream.url + "/_mock/stats").json()["requests"]) - before
    assert asked == 3 and last_request(mock_upstream)["path"] == "/v1/responses"
