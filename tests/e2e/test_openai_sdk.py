"""The official `openai` SDK works through the gateway exactly as against the provider itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types import CompletionUsage
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)

from tests.e2e.conftest import GATEWAY_KEY, LIMITED_KEY
from tests.e2e.sdk_answers import assistant_turn, function_call
from tests.procs import Proc

WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Tell me about llamas."},
]


def sdk_client(server: Proc, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)


@pytest.fixture(scope="module")
def via(gateway: Proc) -> Iterator[openai.OpenAI]:
    """The SDK pointed at the gateway (closed at the end: its connections are sockets)."""
    with sdk_client(gateway, GATEWAY_KEY) as client:
        yield client


@pytest.fixture(scope="module")
def direct(mock_upstream: Proc) -> Iterator[openai.OpenAI]:
    """The SDK pointed at the mock provider itself."""
    with sdk_client(mock_upstream, "direct") as client:
        yield client


def comparable(completion: ChatCompletion) -> dict[str, Any]:
    data = completion.model_dump()
    return {"choices": data["choices"], "usage": data["usage"]}


def test_chat_equals_direct_call(via: openai.OpenAI, direct: openai.OpenAI) -> None:
    answer = via.chat.completions.create(model="gpt-mock", messages=MESSAGES)
    expected = direct.chat.completions.create(model="mock-small", messages=MESSAGES)
    assert answer.choices[0].message.content
    assert comparable(answer) == comparable(expected)


def test_chat_response_headers(via: openai.OpenAI) -> None:
    raw = via.chat.completions.with_raw_response.create(model="gpt-mock", messages=MESSAGES)
    assert raw.headers["x-gateway-deployment"] == "oai/mock-small"
    assert raw.headers["x-gateway-attempts"] == "1"
    assert raw.headers["x-request-id"].startswith("req_")


def test_n_choices(via: openai.OpenAI) -> None:
    completion = via.chat.completions.create(model="gpt-mock", messages=MESSAGES, n=3)
    assert [c.index for c in completion.choices] == [0, 1, 2]


def test_response_format_json(via: openai.OpenAI) -> None:
    completion = via.chat.completions.create(
        model="gpt-mock", messages=MESSAGES, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


def test_stream_with_usage_equals_direct(via: openai.OpenAI, direct: openai.OpenAI) -> None:
    def collect(client: openai.OpenAI, model: str) -> tuple[str, CompletionUsage | None, list[str]]:
        stream = client.chat.completions.create(
            model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish: list[str] = [
            c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
        ]
        return text, chunks[-1].usage, finish

    ours = collect(via, "gpt-mock")
    theirs = collect(direct, "mock-small")
    assert ours[0] and ours == theirs
    assert ours[1] is not None and ours[1].completion_tokens > 0


def test_stream_without_usage_gets_no_usage_chunk(via: openai.OpenAI) -> None:
    chunks = list(via.chat.completions.create(model="gpt-mock", messages=MESSAGES, stream=True))
    assert chunks and all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def tool_round_trip(client: openai.OpenAI, model: str) -> tuple[ChatCompletion, ChatCompletion]:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "What's the weather in Paris?"}
    ]
    first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    call = function_call(first)
    messages.append(assistant_turn(first))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"})
    second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    return first, second


def test_tool_call_round_trip(via: openai.OpenAI, direct: openai.OpenAI) -> None:
    first, second = tool_round_trip(via, "gpt-mock")
    assert first.choices[0].finish_reason == "tool_calls"
    call = function_call(first)
    assert call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)
    assert "sunny, 21C" in (second.choices[0].message.content or "")
    direct_first, direct_second = tool_round_trip(direct, "mock-small")
    assert call.function.arguments == function_call(direct_first).function.arguments
    assert second.choices[0].message.content == direct_second.choices[0].message.content


def test_streamed_tool_call(via: openai.OpenAI) -> None:
    stream = via.chat.completions.create(
        model="gpt-mock",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    name, arguments, finish = "", "", None
    for chunk in stream:
        for delta_call in chunk.choices[0].delta.tool_calls or ():
            assert delta_call.function is not None
            name += delta_call.function.name or ""
            arguments += delta_call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert name == "get_weather" and finish == "tool_calls"
    assert "city" in json.loads(arguments)


def test_embeddings_equal_direct(via: openai.OpenAI, direct: openai.OpenAI) -> None:
    ours = via.embeddings.create(model="embed", input=["hello", "world"])
    theirs = direct.embeddings.create(model="mock-embed", input=["hello", "world"])
    assert len(ours.data) == 2
    assert [d.embedding for d in ours.data] == [d.embedding for d in theirs.data]
    assert ours.usage.prompt_tokens == theirs.usage.prompt_tokens


def test_a_langchain_style_batch_of_token_arrays_is_embedded_as_direct(
    via: openai.OpenAI, direct: openai.OpenAI
) -> None:
    """LangChain's OpenAIEmbeddings sends a document's chunks as token arrays, many per request,
    through the SDK's default base64 encoding: the model's context_window (8191) limits each
    chunk, not the batch's 9,600 tokens, and the vectors are the upstream's, decoded alike."""
    chunks = [[10 + n, 20, 30] * 80 for n in range(40)]  # small ids: the mock takes 64 KiB
    ours = via.embeddings.create(model="embed", input=chunks)
    theirs = direct.embeddings.create(model="mock-embed", input=chunks)
    assert [d.embedding for d in ours.data] == [d.embedding for d in theirs.data]
    assert ours.usage.prompt_tokens == theirs.usage.prompt_tokens == 240 * 40


@pytest.mark.parametrize("value", ["", ["chunk one", ""], [[9906], []]])
def test_embeddings_of_empty_inputs_are_refused_as_openai_refuses_them(
    via: openai.OpenAI, value: Any
) -> None:
    """A text splitter's empty chunk: OpenAI answers 400 `'$.input' is invalid`, and so does the
    gateway (param `input`), whatever the upstream would have made of it."""
    with pytest.raises(openai.BadRequestError, match=r"'\$\.input' is invalid") as refused:
        via.embeddings.create(model="embed", input=value)
    assert isinstance(refused.value.body, dict)
    assert (refused.value.body["type"], refused.value.body["param"]) == (
        "invalid_request_error",
        "input",
    )


def test_models_lists_only_allowed(gateway: Proc, via: openai.OpenAI) -> None:
    everything = {m.id for m in via.models.list()}
    assert {"gpt-mock", "echo", "claude-mock"} <= everything
    with sdk_client(gateway, LIMITED_KEY) as limited_client:
        limited = {m.id for m in limited_client.models.list()}
    assert limited == {"gpt-mock"}


def test_echo_shows_what_the_provider_received(via: openai.OpenAI) -> None:
    text = 'Exactly this, with unicode: naïve café — 東京 and "quotes"\nnewline'
    completion = via.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": text}]
    )
    assert completion.choices[0].message.content == text


def test_in_process_mock_provider(via: openai.OpenAI) -> None:
    completion = via.chat.completions.create(model="inproc-mock", messages=MESSAGES)
    assert completion.choices[0].message.content
    stream = via.chat.completions.create(
        model="inproc-mock", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == completion.choices[0].message.content
    )
    assert chunks[-1].usage is not None


@pytest.mark.asyncio
async def test_async_client_chat_stream_embeddings(gateway: Proc, mock_upstream: Proc) -> None:
    async with (
        openai.AsyncOpenAI(
            base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0
        ) as client,
        openai.AsyncOpenAI(
            base_url=mock_upstream.url + "/v1", api_key="direct", max_retries=0
        ) as direct,
    ):
        answer = await client.chat.completions.create(model="gpt-mock", messages=MESSAGES)
        expected = await direct.chat.completions.create(model="mock-small", messages=MESSAGES)
        assert comparable(answer) == comparable(expected)
        stream = await client.chat.completions.create(
            model="gpt-mock",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == answer.choices[0].message.content
        embeddings = await client.embeddings.create(model="embed", input="hi")
        assert len(embeddings.data) == 1
        models = [m.id async for m in client.models.list()]
        assert "gpt-mock" in models


def test_a_wrong_key_is_refused_as_openai_refuses_one(gateway: Proc) -> None:
    """OpenAI answers a wrong key 401 with `invalid_request_error` / `invalid_api_key`; clients
    that branch on the body's type (not only the status) see the same from the gateway."""
    with sdk_client(gateway, "sk-wrong") as client, pytest.raises(openai.AuthenticationError) as e:
        client.chat.completions.create(model="gpt-mock", messages=MESSAGES)
    assert e.value.status_code == 401
    assert isinstance(e.value.body, dict)
    assert (e.value.body["type"], e.value.body["code"], e.value.body["param"]) == (
        "invalid_request_error",
        "invalid_api_key",
        None,
    )


@pytest.mark.parametrize("stream", [False, True])
def test_web_search_options_are_claudes_web_search_and_its_citations_annotations(
    via: openai.OpenAI, mock_upstream: Proc, stream: bool
) -> None:
    """Before, `web_search_options` was left out of the request to Claude: the model answered
    without searching, and no annotation came."""
    asked: dict[str, Any] = {
        "model": "claude-mock",
        "messages": [{"role": "user", "content": "Latest gateway release?"}],
        "web_search_options": {"search_context_size": "low"},
    }
    if stream:
        chunks = list(via.chat.completions.create(**asked, stream=True))
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        annotations = [
            a
            for c in chunks
            if c.choices
            for a in (c.choices[0].delta.model_extra or {}).get("annotations") or ()
        ]
    else:
        message = via.chat.completions.create(**asked).choices[0].message
        content = message.content or ""
        annotations = [a.model_dump() for a in message.annotations or ()]
    sent = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"]
    assert sent["tools"] == [{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}]
    [annotation] = annotations
    cited = annotation["url_citation"]
    assert annotation["type"] == "url_citation" and cited["url"].startswith("https://search.")
    assert content and (cited["start_index"], cited["end_index"]) == (0, len(content))
