"""The LiteLLM SDK through the gateway, changing only `api_base`: its `openai/` route (the
`openai` SDK underneath) and its `anthropic/` route (LiteLLM's own HTTP client and SSE parser
for `/v1/messages`), each to an OpenAI- and an Anthropic-format upstream, and the exception
class LiteLLM maps each gateway error to (it reads statuses and matches message words, so an
error the other SDKs accept may still reach a LiteLLM app as the wrong class)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from tests.e2e.conftest import GATEWAY_KEY, LIMITED_KEY
from tests.e2e.litellm_client import ROUTES, call, litellm
from tests.procs import Proc

# "echo" and "claude-echo" answer the last user message verbatim, from an OpenAI- and an
# Anthropic-format upstream.
ECHOES = ["echo", "claude-echo"]
TEXT = "What LiteLLM sent is what the provider received: naïve café."
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

# Every LiteLLM call here runs with a loop of its own (tests/e2e/conftest.py).
pytestmark = pytest.mark.usefixtures("litellm_loop")


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("model", ECHOES)
@pytest.mark.parametrize("route", ROUTES)
def test_a_completion_reaches_either_upstream_by_either_route(
    gateway: Proc, route: str, model: str
) -> None:
    answer = litellm.completion(**call(gateway, route, model), messages=ask(TEXT))
    choice = answer.choices[0]
    assert choice.message.content == TEXT
    assert choice.finish_reason == "stop"
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0


@pytest.mark.parametrize("model", ECHOES)
@pytest.mark.parametrize("route", ROUTES)
def test_a_stream_reaches_either_upstream_by_either_route(
    gateway: Proc, route: str, model: str
) -> None:
    chunks = list(
        litellm.completion(
            **call(gateway, route, model),
            messages=ask(TEXT),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == TEXT
    built = litellm.stream_chunk_builder(chunks)
    assert built.choices[0].finish_reason == "stop"
    assert built.usage.prompt_tokens > 0 and built.usage.completion_tokens > 0


@pytest.mark.parametrize("model", ["gpt-mock", "claude-mock"])
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_reaches_either_upstream_by_either_route(
    gateway: Proc, route: str, model: str, stream: bool
) -> None:
    answer = litellm.completion(
        **call(gateway, route, model),
        messages=ask("What is the weather in Paris?"),
        tools=[WEATHER_TOOL],
        stream=stream,
    )
    message = (
        litellm.stream_chunk_builder(list(answer)).choices[0].message
        if stream
        else (answer.choices[0].message)
    )
    (tool_call,) = message.tool_calls
    assert tool_call.function.name == "get_weather"
    assert set(json.loads(tool_call.function.arguments)) == {"city"}
    assert tool_call.id


class Weather(BaseModel):
    city: str
    degrees: int


@pytest.mark.parametrize("model", ["gpt-mock", "claude-mock"])
def test_a_structured_output_by_the_anthropic_route_reaches_either_upstream(
    gateway: Proc, model: str
) -> None:
    """A JSON-schema `response_format` by the `anthropic/` route: LiteLLM sends it as a tool it
    forces and reads the call back as the answer's text, the JSON document. (The `openai/`
    route sends it as the openai SDK does, which tests/e2e/test_structured_output_anthropic.py
    checks; LiteLLM keeps an extra client for it, unclosed until the process ends.)"""
    answer = litellm.completion(
        **call(gateway, "anthropic", model),
        messages=ask("Weather in Paris?"),
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "Weather", "schema": Weather.model_json_schema()},
        },
    )
    assert Weather.model_validate_json(answer.choices[0].message.content)


async def test_an_async_stream_by_the_anthropic_route(gateway: Proc) -> None:
    chunks = await litellm.acompletion(
        **call(gateway, "anthropic", "echo"), messages=ask(TEXT), stream=True
    )
    assert "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices]) == TEXT


def test_embeddings_and_the_responses_api(gateway: Proc) -> None:
    embedded = litellm.embedding(**call(gateway, "openai", "embed"), input=["one", "two"])
    assert [len(item["embedding"]) > 0 for item in embedded.data] == [True, True]
    response = litellm.responses(**call(gateway, "openai", "echo"), input=TEXT)
    assert response.output[0].content[0].text == TEXT


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("model", "key", "raised", "status"),
    [
        ("gpt-mock", "sk-not-a-gateway-key", litellm.AuthenticationError, 401),
        ("no-such-model", GATEWAY_KEY, litellm.NotFoundError, 404),
        # An upstream's context overflow (Anthropic-format upstream, OpenAI's words).
        ("claude-context", GATEWAY_KEY, litellm.ContextWindowExceededError, 400),
        # Every attempt at an upstream failed.
        ("fail", GATEWAY_KEY, litellm.BadGatewayError, 502),
    ],
)
def test_each_gateway_error_is_the_litellm_exception_an_app_catches(
    gateway: Proc, route: str, model: str, key: str, raised: type[Exception], status: int
) -> None:
    with pytest.raises(raised) as caught:
        litellm.completion(**call(gateway, route, model, key), messages=ask("hi"), num_retries=0)
    assert getattr(caught.value, "status_code", None) == status


@pytest.mark.parametrize("route", ROUTES)
def test_a_model_the_key_may_not_use_is_403(gateway: Proc, route: str) -> None:
    """LiteLLM raises PermissionDeniedError for an Anthropic 403, its APIError with the
    status for an OpenAI one (it maps no OpenAI 403): either way the status is there."""
    with pytest.raises((litellm.PermissionDeniedError, litellm.APIError)) as caught:
        litellm.completion(
            **call(gateway, route, "claude-mock", LIMITED_KEY), messages=ask("hi"), num_retries=0
        )
    assert caught.value.status_code == 403
    assert "not allowed to use the model 'claude-mock'" in str(caught.value)
