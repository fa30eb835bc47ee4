"""A prompt past the context window, through the real SDKs: each client gets the words its
provider refuses one with, which is how clients tell an overflow from another bad request
(LiteLLM's ContextWindowExceededError, LangChain's ContextOverflowError, Claude Code's
compaction on "prompt is too long"), from
the gateway's own refusal and from an upstream of the other format."""

from __future__ import annotations

import re

import anthropic
import httpx
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.exceptions import ContextOverflowError
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from tests.e2e.conftest import GATEWAY_KEY
from tests.e2e.litellm_client import call, litellm
from tests.procs import Proc

# Every LiteLLM call here runs with a loop of its own (tests/e2e/conftest.py).
pytestmark = pytest.mark.usefixtures("litellm_loop")

LONG = "lorem ipsum dolor sit amet " * 40  # about 200 tokens
# "small-window" takes 50 tokens (the gateway's own refusal), "gpt-context" is served by an
# OpenAI-format upstream that refuses every prompt as too long (the suite's gateway).
MODELS = ["small-window", "gpt-context"]


def message_of(error: anthropic.APIStatusError) -> str:
    body = error.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["message"])


def test_the_anthropic_sdk_reads_prompt_is_too_long(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as own:
        claude.messages.create(
            model="small-window", max_tokens=10, messages=[{"role": "user", "content": LONG}]
        )
    assert re.fullmatch(r"prompt is too long: \d+ tokens > 50 maximum", message_of(own.value))
    with pytest.raises(anthropic.BadRequestError) as upstream:
        claude.messages.create(
            model="gpt-context", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert message_of(upstream.value).startswith(
        "prompt is too long: This model's maximum context length is"
    )


def test_the_openai_sdk_reads_openais_words_and_code(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as own:
        oai.chat.completions.create(
            model="small-window", messages=[{"role": "user", "content": LONG}]
        )
    assert (own.value.code, own.value.param) == ("context_length_exceeded", "messages")
    body = own.value.body
    assert isinstance(body, dict)
    assert re.match(
        r"This model's maximum context length is 50 tokens\. However, your messages resulted "
        r"in \d+ tokens",
        body["message"],
    )


@pytest.mark.parametrize("route", ["openai", "anthropic"])
@pytest.mark.parametrize("model", MODELS)
def test_litellm_raises_its_context_window_error(gateway: Proc, route: str, model: str) -> None:
    """LiteLLM knows an overflow by its words only: the gateway's own refusal was a plain
    BadRequestError to it before it said what the providers say."""
    arguments = call(gateway, route, model)
    with pytest.raises(litellm.ContextWindowExceededError) as caught:
        litellm.completion(**arguments, messages=[{"role": "user", "content": LONG}], num_retries=0)
    assert caught.value.status_code == 400


@pytest.mark.parametrize("model", MODELS)
def test_langchain_anthropic_raises_its_context_overflow_error(gateway: Proc, model: str) -> None:
    """`ChatAnthropic` knows an overflow by "prompt is too long" alone."""
    chat = ChatAnthropic(
        model_name=model,
        base_url=gateway.url,
        api_key=SecretStr(GATEWAY_KEY),
        max_retries=0,
        max_tokens_to_sample=10,
        timeout=None,
        stop=None,
    )
    with pytest.raises(ContextOverflowError):
        chat.invoke(LONG)


def test_langchain_openai_raises_its_context_overflow_error_on_the_gateways_refusal(
    gateway: Proc,
) -> None:
    """`ChatOpenAI` looks for "context_length_exceeded" in the exception's text, which openai
    2.x no longer puts there, or for "prompt is too long": the gateway's own refusal says it
    (an upstream's OpenAI words, passed on as they are, do not; nor do OpenAI's own)."""
    with httpx.Client() as http:
        chat = ChatOpenAI(
            model="small-window",
            base_url=gateway.url + "/v1",
            api_key=SecretStr(GATEWAY_KEY),
            max_retries=0,
            http_client=http,
        )
        with pytest.raises(ContextOverflowError):
            chat.invoke(LONG)
