"""The official SDKs parse what the translators produce, streaming helpers included.

Each test serves translated output from a `MockTransport`, so no socket is opened.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import anthropic
import httpx
import openai
import orjson

from gateway.providers.anthropic.responses_anthropic_to_openai import anthropic_response_to_openai
from gateway.providers.anthropic.responses_openai_to_anthropic import openai_response_to_anthropic
from gateway.providers.anthropic.streams_anthropic_to_openai import AnthropicToOpenAIStream
from gateway.providers.anthropic.streams_openai_to_anthropic import OpenAIToAnthropicStream
from tests.unit.providers.anthropic.test_responses_anthropic_to_openai import ANTHROPIC_TEXT
from tests.unit.providers.anthropic.test_responses_openai_to_anthropic import OPENAI_TOOL_RESPONSE
from tests.unit.providers.anthropic.test_streams_anthropic_to_openai import ANTHROPIC_TOOL_EVENTS
from tests.unit.providers.anthropic.test_streams_openai_to_anthropic import (
    OPENAI_TEXT_CHUNKS,
    OPENAI_TOOL_CHUNKS,
)

anthropic_httpx: ModuleType
try:  # anthropic >= 2 runs on httpx2 and rejects httpx objects; older releases run on httpx.
    import httpx2 as anthropic_httpx
except ImportError:  # pragma: no cover
    anthropic_httpx = httpx

JSON = dict[str, Any]
TOOLS: Any = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
]


def serve(body: bytes, content_type: str, http: ModuleType = httpx) -> Any:
    """A client of `http` (httpx or httpx2) whose every request gets `body` back."""

    def handler(request: Any) -> Any:
        return http.Response(200, content=body, headers={"content-type": content_type})

    return http.Client(transport=http.MockTransport(handler))


def anthropic_client(body: bytes, content_type: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="k",
        base_url="http://upstream.test",
        http_client=serve(body, content_type, anthropic_httpx),
        max_retries=0,
    )


def openai_client(body: bytes, content_type: str) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="k",
        base_url="http://upstream.test/v1",
        http_client=serve(body, content_type),
        max_retries=0,
    )


def anthropic_sse(events: list[tuple[str, JSON]]) -> bytes:
    return b"".join(
        b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
        for name, data in events
    )


def openai_sse(chunks: list[JSON]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def translate_openai_stream(chunks: list[JSON]) -> bytes:
    stream = OpenAIToAnthropicStream("my-model", input_tokens_estimate=18)
    events: list[tuple[str, JSON]] = []
    for chunk in chunks:
        events += stream.feed(chunk)
    return anthropic_sse(events + stream.finish())


def translate_anthropic_stream(events: list[JSON], include_usage: bool) -> bytes:
    stream = AnthropicToOpenAIStream("my-model", include_usage)
    chunks: list[JSON] = []
    for event in events:
        chunks += stream.feed(event["type"], event)
    return openai_sse(chunks + stream.finish())


def test_anthropic_sdk_accumulates_translated_text_stream() -> None:
    client = anthropic_client(translate_openai_stream(OPENAI_TEXT_CHUNKS), "text/event-stream")
    with client.messages.stream(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text == "Hello world"
    assert message.id == "msg_chatcmpl-9"
    assert [block.type for block in message.content] == ["text"]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (20, 5)


def test_anthropic_sdk_accumulates_translated_tool_stream() -> None:
    client = anthropic_client(translate_openai_stream(OPENAI_TOOL_CHUNKS), "text/event-stream")
    with client.messages.stream(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        message = stream.get_final_message()
    assert message.stop_reason == "tool_use"
    text, first, second = message.content
    assert text.type == "text" and text.text == "Checking."
    assert first.type == "tool_use" and (first.id, first.name, first.input) == (
        "call_1",
        "get_weather",
        {"city": "Paris"},
    )
    assert second.type == "tool_use" and (second.name, second.input) == ("now", {})


def test_openai_sdk_parses_translated_tool_stream_with_usage() -> None:
    client = openai_client(
        translate_anthropic_stream(ANTHROPIC_TOOL_EVENTS, True), "text/event-stream"
    )
    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 60
    arguments = "".join(
        call.function.arguments or ""
        for c in chunks
        for choice in c.choices
        for call in choice.delta.tool_calls or ()
        if call.function is not None
    )
    assert arguments == '{"city": "Paris"}'


def test_openai_sdk_stream_helper_accumulates_translated_tool_stream() -> None:
    client = openai_client(
        translate_anthropic_stream(ANTHROPIC_TOOL_EVENTS, True), "text/event-stream"
    )
    with client.chat.completions.stream(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        tools=TOOLS,
        stream_options={"include_usage": True},
    ) as stream:
        for _ in stream:
            pass
        completion = stream.get_final_completion()
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking."
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert (call.id, call.function.name, call.function.arguments) == (
        "toolu_1",
        "get_weather",
        '{"city": "Paris"}',
    )
    assert completion.usage is not None and completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 5


def test_sdks_parse_translated_json_responses() -> None:
    body = orjson.dumps(openai_response_to_anthropic(OPENAI_TOOL_RESPONSE, "my-model"))
    message = anthropic_client(body, "application/json").messages.create(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[1].type == "tool_use" and message.content[1].input == {"city": "Paris"}
    assert message.usage.cache_read_input_tokens == 30

    body = orjson.dumps(anthropic_response_to_openai(ANTHROPIC_TEXT, "my-model"))
    completion = openai_client(body, "application/json").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "Hello world"
    assert completion.usage is not None and completion.usage.total_tokens == 13
