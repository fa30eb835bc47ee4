"""Why a streamed answer ended, in its record (`finish_reason`), for the streams the gateway
relays or translates with the real SDKs (the real gateway, the mock provider over HTTP): an
Anthropic stream passed through (Claude Code's), Anthropic's stream to an OpenAI client, a
Responses stream of a chat deployment. Before, only OpenAI's streams passed through had one: a
Claude session's answers cut at `max_tokens`, or refused, were not told apart in the log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.e2e.conftest import GATEWAY_KEY
from tests.e2e.records import wait_for_record
from tests.procs import Proc


def reason_of(gateway: Proc, request_id: str) -> object:
    """The `finish_reason` of the request's record."""
    assert isinstance(gateway.log_path, Path)
    return wait_for_record(gateway.log_path, request_id)["finish_reason"]


@pytest.fixture(scope="module")
def client(gateway: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.mark.parametrize(("max_tokens", "reason"), [(3, "max_tokens"), (500, "end_turn")])
def test_an_anthropic_stream_passed_through(
    claude: anthropic.Anthropic, gateway: Proc, max_tokens: int, reason: str
) -> None:
    with claude.messages.with_streaming_response.create(
        model="claude-mock",
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": "Tell me about llamas."}],
        stream=True,
    ) as raw:
        request_id = raw.headers["x-request-id"]
        events = list(raw.parse())
    assert events[-1].type == "message_stop"
    assert reason_of(gateway, request_id) == reason


@pytest.mark.parametrize(("max_tokens", "reason"), [(3, "length"), (500, "stop")])
def test_claudes_stream_to_an_openai_client(
    client: openai.OpenAI, gateway: Proc, max_tokens: int, reason: str
) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="claude-mock",
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": "Tell me about llamas."}],
        stream=True,
    ) as raw:
        request_id = raw.headers["x-request-id"]
        chunks = list(raw.parse())
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == reason
    assert reason_of(gateway, request_id) == reason


def test_a_responses_stream_from_a_chat_deployment(client: openai.OpenAI, gateway: Proc) -> None:
    with client.responses.with_streaming_response.create(
        model="gpt-mock", input="Tell me about llamas.", stream=True
    ) as raw:
        request_id = raw.headers["x-request-id"]
        events = list(raw.parse())
    assert events[-1].type == "response.completed"
    assert reason_of(gateway, request_id) == "completed"
