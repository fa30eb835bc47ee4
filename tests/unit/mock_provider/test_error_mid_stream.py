"""The `error-mid-stream` fault model: a stream that ends, after its first frames, with the
error event its API sends for a failure after the 200."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.mock_provider.handler import MockHandler
from gateway.sse import SSEDecoder

MODEL = "error-mid-stream"
USER = [{"role": "user", "content": "hi"}]
BODIES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"messages": USER},
    "/v1/completions": {"prompt": "hi"},
    "/v1/messages": {"messages": USER, "max_tokens": 100},
    "/v1/responses": {"input": "hi"},
}


async def streamed(path: str, stream: bool = True) -> list[tuple[str | None, Any]]:
    body = orjson.dumps({"model": MODEL, "stream": stream, **BODIES[path]})
    reply = await MockHandler().handle("POST", path, {}, body)
    assert reply.status == 200
    raw = b"".join([piece async for piece in reply.body])
    if not stream:
        return [(None, orjson.loads(raw))]
    return [(e.event, orjson.loads(e.data)) for e in SSEDecoder().feed(raw)]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
async def test_an_openai_stream_ends_with_an_error_chunk(path: str) -> None:
    events = await streamed(path)
    # 3 frames of chunks (no `[DONE]`: it is no JSON), then the error
    assert len(events) >= 4 and all(name is None for name, _ in events)
    assert all("choices" in data for _, data in events[:-1])
    error = events[-1][1]["error"]
    assert (error["type"], error["code"]) == ("server_error", None) and error["message"]


async def test_an_anthropic_stream_ends_with_an_overloaded_error_event() -> None:
    events = await streamed("/v1/messages")
    assert events[0][0] == "message_start" and "message_stop" not in [n for n, _ in events]
    assert events[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )


async def test_a_responses_stream_ends_with_a_failed_response() -> None:
    events = await streamed("/v1/responses")
    created, failed = events[0][1], events[-1]
    assert failed[0] == "response.failed" and failed[1]["type"] == "response.failed"
    response = failed[1]["response"]
    assert response["id"] == created["response"]["id"]  # the placeholder filled in
    assert response["status"] == "failed" and response["error"]["code"] == "server_error"


async def test_not_streamed_it_answers_as_any_model() -> None:
    ((_, answer),) = await streamed("/v1/chat/completions", stream=False)
    assert answer["choices"][0]["finish_reason"] == "stop"


async def test_not_streamed_a_responses_request_gets_a_failed_response() -> None:
    ((_, answer),) = await streamed("/v1/responses", stream=False)  # with status 200
    assert answer["object"] == "response" and answer["id"].startswith("resp_mock")
    assert "#" not in answer["id"]  # the placeholder filled in
    assert answer["status"] == "failed" and answer["output"] == []
    assert answer["error"] == {
        "code": "server_error",
        "message": "The server had an error while processing your request. (mock error-mid-stream)",
    }
