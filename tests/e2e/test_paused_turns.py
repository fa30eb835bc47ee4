"""A web search on a Claude deployment whose turn Claude paused (`stop_reason: "pause_turn"`),
asked by the openai SDK's chat completions and Responses clients, whose APIs have no such stop:
the gateway continues the turn (the real gateway, the mock provider over HTTP as Claude, which
pauses on `pause_turn xN` and refuses server tool blocks not sent back as it sent them).

Before, the client got the paused answer as a finished one: "Let me search for that." and
nothing more, `finish_reason: "stop"`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.completion_create_params import WebSearchOptions
from openai.types.responses import Response, WebSearchToolParam

from gateway.mock_provider.paused_turns import PAUSED_TEXT
from tests.e2e.conftest import GATEWAY_KEY
from tests.e2e.records import wait_for_record
from tests.procs import Proc

QUESTION = "What changed in the gateway this week? pause_turn x2"


@pytest.fixture(scope="module")
def client(gateway: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as sdk:
        yield sdk


def _claude_calls(mock_upstream: Proc) -> int:
    return int(httpx.get(mock_upstream.url + "/_mock/stats").json()["requests"])


def _assert_whole(text: str) -> None:
    """Both pauses' text, then the answer Claude ended the turn with."""
    assert text.startswith(PAUSED_TEXT * 2)
    assert len(text) > len(PAUSED_TEXT) * 2 + 20


@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_clients_paused_search_is_continued(
    client: openai.OpenAI, gateway: Proc, mock_upstream: Proc, stream: bool
) -> None:
    before = _claude_calls(mock_upstream)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": QUESTION}]
    search: WebSearchOptions = {"search_context_size": "medium"}
    if stream:
        with client.chat.completions.with_streaming_response.create(
            model="claude-mock",
            messages=messages,
            web_search_options=search,
            stream=True,
            stream_options={"include_usage": True},
        ) as raw:
            request_id = raw.headers["x-request-id"]
            chunks = list(raw.parse())
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        usage = chunks[-1].usage
        cited = [
            a
            for c in chunks
            if c.choices
            for a in (c.choices[0].delta.model_extra or {}).get("annotations") or ()
        ]
    else:
        raw_answer = client.chat.completions.with_raw_response.create(
            model="claude-mock", messages=messages, web_search_options=search
        )
        request_id = raw_answer.headers["x-request-id"]
        completion = raw_answer.parse()
        message = completion.choices[0].message
        text, finish = message.content or "", completion.choices[0].finish_reason
        usage = completion.usage
        cited = list(message.annotations or ())
    _assert_whole(text)
    assert finish == "stop" and cited  # the final answer's citation
    assert _claude_calls(mock_upstream) - before == 3
    assert gateway.log_path is not None
    record = wait_for_record(gateway.log_path, request_id)
    assert usage is not None
    assert record["prompt_tokens"] == usage.prompt_tokens  # the three calls', added up
    assert record["completion_tokens"] == usage.completion_tokens > 24
    assert record["web_searches"] == 3  # one per call, each billed


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_clients_paused_search_is_continued(
    client: openai.OpenAI, mock_upstream: Proc, stream: bool
) -> None:
    before = _claude_calls(mock_upstream)
    tool: WebSearchToolParam = {"type": "web_search"}
    response: Response
    if stream:
        with client.responses.stream(model="claude-mock", input=QUESTION, tools=[tool]) as events:
            response = events.get_final_response()
    else:
        response = client.responses.create(model="claude-mock", input=QUESTION, tools=[tool])
    assert response.status == "completed"
    _assert_whole(response.output_text)
    cited = [
        annotation
        for item in response.output
        if item.type == "message"
        for part in item.content
        if part.type == "output_text"
        for annotation in part.annotations
    ]
    assert cited and cited[-1].type == "url_citation"  # the final answer's citation
    assert _claude_calls(mock_upstream) - before == 3
