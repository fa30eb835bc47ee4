"""The web searches a provider ran for an answer, counted for the record (billed per search,
apart from the tokens): Claude's `server_tool_use.web_search_requests`, the Responses API's
`web_search_call` items, JSON and streamed, passed through and translated."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.errors import UpstreamFailed
from gateway.providers.anthropic.usage import usage_from_anthropic
from gateway.providers.base import Usage
from gateway.providers.responses.anthropic_bridge import AnthropicThroughResponsesStream
from gateway.providers.responses.chat_bridge import ChatThroughResponses
from gateway.providers.responses.objects import usage_with_searches
from gateway.providers.responses.stream_passthrough import ResponsesStreamPassthrough
from gateway.providers.responses.streams_responses_to_chat import ResponsesToChatStream
from gateway.sse import encode_event

SEARCH = {
    "id": "ws_1",
    "type": "web_search_call",
    "status": "completed",
    "action": {"type": "search", "query": "q"},
}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "It is.", "annotations": []}],
}
RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "model": "gpt-x",
    "status": "completed",
    "output": [SEARCH, {**SEARCH, "id": "ws_2"}, MESSAGE],
    "usage": {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12},
}


def test_claudes_usage_says_its_searches() -> None:
    usage = usage_from_anthropic(
        {"input_tokens": 9, "output_tokens": 3, "server_tool_use": {"web_search_requests": 2}}
    )
    assert usage is not None and usage.web_searches == 2
    plain = usage_from_anthropic({"input_tokens": 9, "output_tokens": 3})
    assert plain is not None and plain.web_searches == 0
    with pytest.raises(UpstreamFailed, match="web_search_requests"):
        usage_from_anthropic({"server_tool_use": {"web_search_requests": -1}})


def test_a_response_counts_its_web_search_calls() -> None:
    assert usage_with_searches(Usage(), RESPONSE).web_searches == 2
    assert usage_with_searches(Usage(), {"output": "broken"}).web_searches == 0


def test_a_chat_client_through_the_responses_api_is_billed_its_searches() -> None:
    _, usage, _ = ChatThroughResponses().convert_json(orjson.dumps(RESPONSE))
    assert usage.web_searches == 2


def _events() -> bytes:
    events: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "response": {**RESPONSE, "status": "in_progress", "output": []},
        },
        {"type": "response.output_item.added", "output_index": 2, "item": MESSAGE},
        {"type": "response.output_text.delta", "output_index": 2, "delta": "It is."},
        {"type": "response.completed", "response": RESPONSE},
    ]
    return b"".join(encode_event(orjson.dumps(e), e["type"]) for e in events)


@pytest.mark.parametrize(
    "converter",
    [
        lambda: ResponsesStreamPassthrough(),
        lambda: ResponsesToChatStream(include_usage=True),
        lambda: AnthropicThroughResponsesStream("claude-x", 9),
    ],
    ids=["passthrough", "chat", "anthropic"],
)
def test_a_streamed_response_counts_its_web_search_calls(converter: Any) -> None:
    stream = converter()
    stream.feed(_events())
    stream.finish()
    assert stream.usage is not None and stream.usage.web_searches == 2
