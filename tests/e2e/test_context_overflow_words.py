"""A prompt past the context window, through the real SDKs: each client gets the words its
provider refuses one with, which is how clients tell an overflow from another bad request
(LiteLLM's ContextWindowExceededError, Claude Code's compaction on "prompt is too long"), from
the gateway's own refusal and from an upstream of the other format."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.e2e.litellm_client import call, litellm
from tests.procs import Proc, start_gateway

KEY = "sk-e2e-context-words"
LONG = "lorem ipsum dolor sit amet " * 40  # about 200 tokens

# Every LiteLLM call here runs with a loop of its own (tests/e2e/conftest.py).
pytestmark = pytest.mark.usefixtures("litellm_loop")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("context-words")
    (root / "config.toml").write_text(
        f'[logging]\npath = "{root}/requests.jsonl"\n\n'
        f'[[providers]]\nname = "oai"\ntype = "openai"\nbase_url = "{mock_upstream.url}/v1"\n\n'
        f'[[providers]]\nname = "ant"\ntype = "anthropic"\nbase_url = "{mock_upstream.url}"\n\n'
        '[[models]]\nname = "small"\n[[models.deployments]]\nprovider = "oai"\n'
        'model = "mock-small"\ncontext_window = 50\n\n'
        '[[models]]\nname = "gpt-overflow"\n[[models.deployments]]\nprovider = "oai"\n'
        'model = "fail-400-context"\n\n'
        f'[[keys]]\nid = "k"\nkey_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"\n'
    )
    proc = start_gateway(root / "config.toml")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def claude(gateway: Proc) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def oai(gateway: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        yield client


def message_of(error: anthropic.APIStatusError) -> str:
    body = error.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["message"])


def test_the_anthropic_sdk_reads_prompt_is_too_long(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as own:
        claude.messages.create(
            model="small", max_tokens=10, messages=[{"role": "user", "content": LONG}]
        )
    assert re.fullmatch(r"prompt is too long: \d+ tokens > 50 maximum", message_of(own.value))
    with pytest.raises(anthropic.BadRequestError) as upstream:
        claude.messages.create(
            model="gpt-overflow", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert message_of(upstream.value).startswith(
        "prompt is too long: This model's maximum context length is"
    )


def test_the_openai_sdk_reads_openais_words_and_code(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as own:
        oai.chat.completions.create(model="small", messages=[{"role": "user", "content": LONG}])
    assert (own.value.code, own.value.param) == ("context_length_exceeded", "messages")
    body = own.value.body
    assert isinstance(body, dict)
    assert re.match(
        r"This model's maximum context length is 50 tokens\. However, your messages resulted "
        r"in \d+ tokens",
        body["message"],
    )


@pytest.mark.parametrize("route", ["openai", "anthropic"])
@pytest.mark.parametrize("model", ["small", "gpt-overflow"])
def test_litellm_raises_its_context_window_error(gateway: Proc, route: str, model: str) -> None:
    """LiteLLM knows an overflow by its words only: the gateway's own refusal was a plain
    BadRequestError to it before it said what the providers say."""
    arguments = call(gateway, route, model, KEY)
    with pytest.raises(litellm.ContextWindowExceededError) as caught:
        litellm.completion(**arguments, messages=[{"role": "user", "content": LONG}], num_retries=0)
    assert caught.value.status_code == 400
