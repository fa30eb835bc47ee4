"""An OpenAI client's prompt caching on a Claude deployment (the real gateway, the mock provider
over HTTP as Claude, which refuses the breakpoints Anthropic refuses): a request that asks for
its prompt cache, as Codex asks on every turn, gets Claude's automatic caching. Before, the
fields were dropped and every turn of a Codex session on Claude paid its whole conversation at
the input price."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.e2e.conftest import GATEWAY_KEY
from tests.procs import Proc


@pytest.fixture(scope="module")
def client(gateway: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as sdk:
        yield sdk


def _sent(mock_upstream: Proc) -> dict[str, Any]:
    request = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]
    assert request["path"] == "/v1/messages"
    return dict(request["body"])


def test_a_codex_turn_on_claude_is_cached(client: openai.OpenAI, mock_upstream: Proc) -> None:
    response = client.responses.create(
        model="claude-mock",
        instructions="You are Codex.",
        input="List the files.",
        prompt_cache_key="019a8f00-session",
        store=False,
    )
    assert response.status == "completed"
    sent = _sent(mock_upstream)
    assert sent["cache_control"] == {"type": "ephemeral"}
    assert "prompt_cache_key" not in sent


def test_a_day_long_retention_is_claudes_hour(client: openai.OpenAI, mock_upstream: Proc) -> None:
    client.chat.completions.create(
        model="claude-mock",
        messages=[{"role": "user", "content": "hi"}],
        prompt_cache_retention="24h",
    )
    assert _sent(mock_upstream)["cache_control"] == {"type": "ephemeral", "ttl": "1h"}


def test_a_request_with_its_own_four_breakpoints_is_sent_as_it_is(
    client: openai.OpenAI, mock_upstream: Proc
) -> None:
    """A fifth breakpoint would be Claude's 400 "A maximum of 4 blocks with cache_control"."""
    parts: Any = [
        {"type": "text", "text": f"Document {i}.", "cache_control": {"type": "ephemeral"}}
        for i in range(4)
    ]
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": parts}]
    answer = client.chat.completions.create(
        model="claude-mock", messages=messages, prompt_cache_key="app-7"
    )
    assert answer.choices[0].message.content
    sent = _sent(mock_upstream)
    assert "cache_control" not in sent
    assert sum("cache_control" in block for block in sent["messages"][0]["content"]) == 4


def test_a_request_that_does_not_ask_is_not_cached(
    client: openai.OpenAI, mock_upstream: Proc
) -> None:
    client.chat.completions.create(
        model="claude-mock", messages=[{"role": "user", "content": "hi"}]
    )
    assert "cache_control" not in _sent(mock_upstream)
