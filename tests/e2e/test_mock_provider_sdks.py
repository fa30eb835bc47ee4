"""The real mock provider process over loopback, spoken to by the official SDKs: chat, streams,
tools, JSON mode, embeddings and typed errors; a dropped stream and the recorded auth headers as
the SDKs see them. The servers (`mock`, `slow_mock`) are fixtures in conftest.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from gateway import tokens
from tests.e2e.mock_provider_direct import MESSAGES, MockServer, chat_body

WEATHER: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
}
OPENAI_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}
ANTHROPIC_TOOL = {"name": "get_weather", "input_schema": WEATHER}


# The SDKs' typed request parameters add nothing to a wire test: their clients are `Any` here.
# Each is closed when the module ends (its pooled connections are sockets).
@pytest.fixture(scope="module")
def oai(mock: MockServer) -> Iterator[Any]:
    with openai.OpenAI(
        base_url=mock.url + "/v1", api_key="sk-openai-test", max_retries=0, timeout=10
    ) as client:
        yield client


@pytest.fixture(scope="module")
def ant(mock: MockServer) -> Iterator[Any]:
    with anthropic.Anthropic(
        base_url=mock.url, api_key="sk-ant-test", max_retries=0, timeout=10
    ) as client:
        yield client


# ---------------------------------------------------------------------------------------------
# openai SDK


def test_openai_chat_with_tiktoken_usage(oai: Any) -> None:
    completion = oai.chat.completions.create(model="mock-small", messages=MESSAGES)
    text = completion.choices[0].message.content or ""
    assert len(text.split()) == 20 and completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == tokens.count_messages(MESSAGES)
    assert completion.usage.completion_tokens == tokens.count_text(text)
    again = oai.chat.completions.create(model="mock-small", messages=MESSAGES)
    assert again.choices[0].message.content == text and again.id != completion.id
    several = oai.chat.completions.create(model="mock-small", messages=MESSAGES, n=3)
    assert [c.index for c in several.choices] == [0, 1, 2]


def test_openai_stream_with_usage(oai: Any) -> None:
    expected = oai.chat.completions.create(model="mock-small", messages=MESSAGES)
    stream = oai.chat.completions.create(
        model="mock-small",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    content = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(content) == 20
    assert "".join(content) == expected.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert all(c.usage is None for c in chunks[:-1]) and chunks[-1].choices == []
    assert (
        chunks[-1].usage is not None
        and chunks[-1].usage.model_dump() == expected.usage.model_dump()
    )


def test_openai_tool_round_trip_and_streamed_call(oai: Any) -> None:
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = oai.chat.completions.create(model="mock-small", messages=messages, tools=[OPENAI_TOOL])
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "test", "days": 1}
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"})
    second = oai.chat.completions.create(model="mock-small", messages=messages, tools=[OPENAI_TOOL])
    assert second.choices[0].message.content == "Tool result: sunny, 21C"
    stream = oai.chat.completions.create(
        model="mock-small",
        messages=messages[:1],
        tools=[OPENAI_TOOL],
        stream=True,
    )
    name, arguments, finish = "", "", None
    for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or ():
            name += delta.function.name or ""
            arguments += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (name, json.loads(arguments), finish) == (
        "get_weather",
        {"city": "test", "days": 1},
        "tool_calls",
    )


def test_openai_json_mode_and_echo(oai: Any) -> None:
    completion = oai.chat.completions.create(
        model="mock-small",
        messages=MESSAGES,
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)
    text = 'Exactly this: naïve café — 東京 and "quotes"\nnewline'
    echo = oai.chat.completions.create(model="echo", messages=[{"role": "user", "content": text}])
    assert echo.choices[0].message.content == text


async def test_openai_async_client(mock: MockServer) -> None:
    client: Any
    async with openai.AsyncOpenAI(
        base_url=mock.url + "/v1", api_key="sk-async", max_retries=0, timeout=10
    ) as client:
        completion = await client.chat.completions.create(model="mock-large", messages=MESSAGES)
        stream = await client.chat.completions.create(
            model="mock-large",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == completion.choices[0].message.content
        # The SDK asks for base64 unless told otherwise; both encodings carry the same vectors.
        packed = await client.embeddings.create(model="mock-embed", input=["hello", "world"])
        floats = await client.embeddings.create(
            model="mock-embed", input=["hello", "world"], encoding_format="float"
        )
        assert [d.embedding for d in packed.data] == [d.embedding for d in floats.data]
        assert len(packed.data[0].embedding) == 8 and packed.usage.prompt_tokens == 2
        wide = await client.embeddings.create(model="mock-embed", input="hello", dimensions=64)
        assert len(wide.data[0].embedding) == 64
        assert {"echo", "mock-small", "mock-large"} <= {m.id async for m in client.models.list()}


def test_openai_sdk_sees_faults_as_typed_errors(oai: Any) -> None:
    with pytest.raises(openai.InternalServerError) as failed:
        oai.chat.completions.create(model="fail-500", messages=MESSAGES)
    assert failed.value.status_code == 500
    with pytest.raises(openai.RateLimitError) as limited:
        oai.chat.completions.create(model="fail-429", messages=MESSAGES)
    assert limited.value.response.headers["retry-after"] == "1"
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="mock-small", messages=MESSAGES, n=0)


# ---------------------------------------------------------------------------------------------
# anthropic SDK


def test_anthropic_create_and_stream(ant: Any) -> None:
    kwargs: dict[str, Any] = {
        "model": "mock-small",
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Tell me about llamas."}],
    }
    message = ant.messages.create(**kwargs)
    assert (
        message.type == "message"
        and message.role == "assistant"
        and message.stop_reason == "end_turn"
    )
    text = message.content[0].text
    assert len(text.split()) == 20
    assert message.usage.input_tokens == tokens.count_messages(kwargs["messages"], "Be brief.")
    assert message.usage.output_tokens == tokens.count_text(text)
    with ant.messages.stream(**kwargs) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == text and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == message.usage.output_tokens
    short = ant.messages.create(**{**kwargs, "max_tokens": 3})
    assert short.stop_reason == "max_tokens" and short.usage.output_tokens <= 3


def test_anthropic_tools(ant: Any) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = ant.messages.create(
        model="mock-small", max_tokens=200, tools=[ANTHROPIC_TOOL], messages=messages
    )
    assert first.stop_reason == "tool_use"
    tool_use = next(block for block in first.content if block.type == "tool_use")
    assert tool_use.name == "get_weather" and tool_use.input == {"city": "test", "days": 1}
    messages.append(
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
    )
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny, 21C"}
            ],
        }
    )
    second = ant.messages.create(
        model="mock-small", max_tokens=200, tools=[ANTHROPIC_TOOL], messages=messages
    )
    assert second.content[0].text == "Tool result: sunny, 21C"
    with ant.messages.stream(
        model="mock-small",
        max_tokens=200,
        tools=[ANTHROPIC_TOOL],
        messages=messages[:1],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    streamed = next(block for block in final.content if block.type == "tool_use")
    assert streamed.input == {"city": "test", "days": 1}


def test_anthropic_errors(mock: MockServer, ant: Any) -> None:
    kwargs: dict[str, Any] = {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(anthropic.InternalServerError) as failed:
        ant.messages.create(model="fail-500", **kwargs)
    body: Any = failed.value.body
    assert body["type"] == "error" and body["error"]["type"] == "api_error"
    assert set(body["error"]) == {"type", "message"}
    with pytest.raises(anthropic.RateLimitError) as limited:
        ant.messages.create(model="fail-429", **kwargs)
    assert limited.value.response.headers["retry-after"] == "1"
    response = httpx.post(mock.url + "/v1/messages", content=b"{not json")
    assert (
        response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    )


# ---------------------------------------------------------------------------------------------
# Faults and stats as the SDKs see them


def test_drop_mid_stream_aborts_the_connection(mock: MockServer, oai: Any) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(mock.url + "/v1/chat/completions", json=chat_body("drop-mid-stream"))
    received = b""
    body = chat_body("drop-mid-stream", stream=True)
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", mock.url + "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_raw():
            received += chunk
    assert (
        received.count(b'"content":') == 4 and b"[DONE]" not in received
    )  # opening delta + 3 words
    # The SDK's stream ends in a connection error: openai.APIConnectionError where the SDK wraps
    # errors met while iterating, httpx's own where it does not (openai 1.92, the floor).
    with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)):
        list(oai.chat.completions.create(model="drop-mid-stream", messages=MESSAGES, stream=True))


def test_stats_record_auth_headers_and_reset(mock: MockServer, oai: Any, ant: Any) -> None:
    oai.chat.completions.create(model="echo", messages=[{"role": "user", "content": "a"}])
    ant.messages.create(model="echo", max_tokens=5, messages=[{"role": "user", "content": "b"}])
    stats = mock.stats()
    # The anthropic SDK sends its key as x-api-key or (newer versions) as a bearer token.
    assert stats["auth_headers_seen"][-2] == "Bearer sk-openai-test"
    assert stats["auth_headers_seen"][-1] in ("sk-ant-test", "Bearer sk-ant-test")
    assert (
        stats["last_request"]["path"] == "/v1/messages"
        and stats["last_request"]["body"]["model"] == "echo"
    )
    assert stats["by_model"]["echo"] >= 2
    assert httpx.post(mock.url + "/_mock/reset").status_code == 200
    assert mock.stats()["requests"] == 0
