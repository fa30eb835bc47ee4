"""MockHandler (the transport-independent core) and InProcessMockUpstream."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import orjson
import pytest

from gateway.mock_provider.bodies import StreamBody
from gateway.mock_provider.handler import MockConnectionDrop, MockHandler, MockReply
from gateway.mock_provider.inprocess import InProcessMockUpstream
from gateway.sse import SSEDecoder
from gateway.upstream import UpstreamError, UpstreamRequest, UpstreamTimeouts

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
USER = [{"role": "user", "content": "hi"}]


def chat(model: str = "mock-small", **extra: Any) -> bytes:
    return orjson.dumps({"model": model, "messages": USER, **extra})


def anthropic(model: str = "mock-small", **extra: Any) -> bytes:
    return orjson.dumps({"model": model, "max_tokens": 100, "messages": USER, **extra})


async def body_of(reply: MockReply) -> bytes:
    return b"".join([piece async for piece in reply.body])


async def pieces_of(reply: MockReply) -> list[bytes]:
    return [piece async for piece in reply.body]


def events(raw: bytes) -> list[tuple[str | None, Any]]:
    parsed = []
    for event in SSEDecoder().feed(raw):
        parsed.append(
            (event.event, event.data if event.data == b"[DONE]" else json.loads(event.data))
        )
    return parsed


async def test_chat_json_reply() -> None:
    handler = MockHandler()
    reply = await handler.handle("POST", CHAT, {"Authorization": "Bearer k"}, chat())
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    payload = await body_of(reply)
    assert reply.headers["content-length"] == str(len(payload))
    data = json.loads(payload)
    assert data["object"] == "chat.completion" and data["choices"][0]["message"]["content"]
    again = json.loads(await body_of(await handler.handle("POST", CHAT, {}, chat())))
    assert again["id"] != data["id"] and len(again["id"]) == len(data["id"])
    assert again["choices"] == data["choices"] and again["usage"] == data["usage"]
    assert abs(data["created"] - time.time()) < 5


async def test_openai_stream_has_a_piece_per_word_and_done() -> None:
    reply = await MockHandler().handle(
        "POST", CHAT, {}, chat(stream=True, stream_options={"include_usage": True})
    )
    assert (
        reply.headers["content-type"].startswith("text/event-stream")
        and "content-length" not in reply.headers
    )
    pieces = await pieces_of(reply)
    assert len(pieces) == 20
    parsed = events(b"".join(pieces))
    assert parsed[-1] == (None, b"[DONE]")
    chunks = [data for _, data in parsed[:-1]]
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert sum(1 for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")) == 20
    assert chunks[-1]["usage"]["completion_tokens"] > 0


async def test_anthropic_stream_events_are_named_by_type() -> None:
    reply = await MockHandler().handle("POST", MESSAGES, {"x-api-key": "k"}, anthropic(stream=True))
    parsed = events(await body_of(reply))
    assert all(name == data["type"] for name, data in parsed)
    assert parsed[0][1]["message"]["id"].startswith("msg_")
    assert [name for name, _ in parsed][-1] == "message_stop"


@pytest.mark.parametrize(
    ("path", "body"), [(CHAT, chat("fail-500")), (MESSAGES, anthropic("fail-500"))]
)
async def test_fail_500_in_the_wire_shape(path: str, body: bytes) -> None:
    reply = await MockHandler().handle("POST", path, {}, body)
    data = json.loads(await body_of(reply))
    assert reply.status == 500
    if path == MESSAGES:
        assert data["type"] == "error" and data["error"]["type"] == "api_error"
    else:
        assert set(data["error"]) == {"message", "type", "param", "code"}


async def test_fail_429_has_retry_after() -> None:
    for path, body in ((CHAT, chat("fail-429")), (MESSAGES, anthropic("fail-429"))):
        reply = await MockHandler().handle("POST", path, {}, body)
        assert reply.status == 429 and reply.headers["retry-after"] == "1"
        assert "rate" in (await body_of(reply)).decode().lower()


async def test_bad_json_404_405_and_models() -> None:
    handler = MockHandler()
    reply = await handler.handle("POST", CHAT, {}, b"{not json")
    assert (
        reply.status == 400
        and json.loads(await body_of(reply))["error"]["type"] == "invalid_request_error"
    )
    reply = await handler.handle("POST", MESSAGES, {}, b"[")
    assert reply.status == 400 and json.loads(await body_of(reply))["type"] == "error"
    reply = await handler.handle("POST", CHAT, {}, orjson.dumps({"model": "m"}))
    assert reply.status == 400 and json.loads(await body_of(reply))["error"]["param"] == "messages"
    assert (await handler.handle("POST", "/v1/nothing", {}, b"")).status == 404
    assert (await handler.handle("GET", CHAT, {}, b"")).status == 405
    models = json.loads(await body_of(await handler.handle("GET", "/v1/models", {}, b"")))
    assert {"echo", "mock-small", "mock-large"} <= {m["id"] for m in models["data"]}
    count = json.loads(
        await body_of(await handler.handle("POST", "/v1/messages/count_tokens", {}, anthropic()))
    )
    assert count["input_tokens"] > 0


async def test_malformed_replies() -> None:
    handler = MockHandler()
    reply = await handler.handle("POST", CHAT, {}, chat("malformed"))
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(await body_of(reply))
    stream = await handler.handle("POST", CHAT, {}, chat("malformed", stream=True))
    first = SSEDecoder().feed(await body_of(stream))[0]
    with pytest.raises(json.JSONDecodeError):
        json.loads(first.data)


async def test_drop_mid_stream() -> None:
    handler = MockHandler()
    with pytest.raises(MockConnectionDrop):
        await handler.handle("POST", CHAT, {}, chat("drop-mid-stream"))
    reply = await handler.handle("POST", CHAT, {}, chat("drop-mid-stream", stream=True))
    received = []
    with pytest.raises(MockConnectionDrop):
        async for piece in reply.body:
            received.append(piece)
    assert len(received) == 3 and b"[DONE]" not in b"".join(received)
    assert handler.stats.dropped_streams == 1 and handler.stats.active_streams == 0


async def test_stats_count_requests_models_and_auth() -> None:
    handler = MockHandler()
    for i in range(105):
        await handler.handle("POST", CHAT, {"Authorization": f"Bearer k{i}"}, chat())
    await handler.handle("POST", MESSAGES, {"x-api-key": "anthropic-key"}, anthropic("echo"))
    stats = handler.stats
    assert stats.requests == 106 and stats.by_model == {"mock-small": 105, "echo": 1}
    assert len(stats.auth_headers_seen) == 100 and stats.auth_headers_seen[-1] == "anthropic-key"
    assert stats.auth_headers_seen[0] == "Bearer k6"
    last = stats.last_request
    assert last is not None and last["path"] == MESSAGES and last["body"]["model"] == "echo"
    assert last["headers"] == {"x-api-key": "anthropic-key"}
    assert json.loads(orjson.dumps(stats.as_dict()))["requests"] == 106
    stats.reset()
    assert stats.requests == 0 and stats.by_model == {} and stats.last_request is None


async def test_stream_completion_and_cancellation_are_counted() -> None:
    handler = MockHandler(tokens_per_s=1000)
    stats = handler.stats
    reply = await handler.handle("POST", CHAT, {}, chat(stream=True))
    await body_of(reply)
    assert (stats.completed_streams, stats.active_streams) == (1, 0)
    reply = await handler.handle("POST", CHAT, {}, chat(stream=True))
    await reply.body.__anext__()
    assert stats.active_streams == 1
    assert isinstance(reply.body, StreamBody)
    await reply.body.aclose()
    await reply.body.aclose()
    assert (stats.cancelled_streams, stats.active_streams) == (1, 0)
    reply = await handler.handle("POST", CHAT, {}, chat(stream=True))
    task = asyncio.ensure_future(body_of(reply))
    await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (stats.cancelled_streams, stats.active_streams, stats.completed_streams) == (2, 0, 1)


async def test_pacing_and_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    # What the mock waits is read from the sleeps it asks for, not from the clock.
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded(delay: float) -> None:
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recorded)
    handler = MockHandler(latency_ms=50, tokens_per_s=400)
    reply = await handler.handle("POST", CHAT, {}, chat(stream=True))
    assert waits == [0.05]  # the latency, before the reply
    await body_of(reply)
    monkeypatch.undo()
    paced = waits[1:]  # one wait per piece after the first
    assert len(paced) >= 19 and set(paced) == {1 / 400}
    assert MockHandler().may_wait(b"{}") is False
    assert handler.may_wait(b"{}") and MockHandler().may_wait(chat("fail-timeout"))


async def test_fail_timeout_waits_until_cancelled() -> None:
    task = asyncio.ensure_future(MockHandler().handle("POST", CHAT, {}, chat("fail-timeout")))
    await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# ---------------------------------------------------------------------------------------------
# InProcessMockUpstream


def request(body: bytes, path: str = CHAT) -> UpstreamRequest:
    return UpstreamRequest("POST", "mock://local" + path, {"authorization": "Bearer k"}, body)


async def test_inprocess_json_and_stream() -> None:
    upstream = InProcessMockUpstream()
    response = await upstream.send(request(chat()), UpstreamTimeouts())
    assert response.status == 200 and response.headers["content-type"] == "application/json"
    assert json.loads(await response.read())["object"] == "chat.completion"
    await response.aclose()
    response = await upstream.send(
        request(anthropic(stream=True), MESSAGES + "?beta=true"), UpstreamTimeouts()
    )
    raw = b"".join([chunk async for chunk in response.iter_chunks()])
    await response.aclose()
    assert events(raw)[-1][0] == "message_stop"
    assert (
        upstream.handler.stats.completed_streams == 1
        and upstream.handler.stats.cancelled_streams == 0
    )
    await upstream.aclose()


async def test_inprocess_first_byte_timeout() -> None:
    upstream = InProcessMockUpstream()
    # "fail-timeout" never answers: only the 0.05 s first-byte timeout ends the call (the outer
    # guard turns a timeout that does not apply into a failure instead of a hung test).
    with pytest.raises(UpstreamError) as info:
        async with asyncio.timeout(10):
            await upstream.send(request(chat("fail-timeout")), UpstreamTimeouts(first_byte_s=0.05))
    assert info.value.kind == "first_token_timeout"
    slow = InProcessMockUpstream(MockHandler(latency_ms=500))
    with pytest.raises(UpstreamError) as info:
        await slow.send(request(chat()), UpstreamTimeouts(first_byte_s=0.05))
    assert info.value.kind == "first_token_timeout"


async def test_inprocess_idle_timeout_closes_the_stream() -> None:
    upstream = InProcessMockUpstream(MockHandler(tokens_per_s=5))
    response = await upstream.send(request(chat(stream=True)), UpstreamTimeouts(idle_s=0.05))
    chunks = []
    with pytest.raises(UpstreamError) as info:
        async for chunk in response.iter_chunks():
            chunks.append(chunk)
    assert info.value.kind == "idle_timeout" and len(chunks) == 1
    await response.aclose()
    stats = upstream.handler.stats
    assert (stats.cancelled_streams, stats.active_streams) == (1, 0)


async def test_inprocess_drop_becomes_protocol_error() -> None:
    upstream = InProcessMockUpstream()
    response = await upstream.send(
        request(chat("drop-mid-stream", stream=True)), UpstreamTimeouts()
    )
    chunks = []
    with pytest.raises(UpstreamError) as info:
        async for chunk in response.iter_chunks():
            chunks.append(chunk)
    assert info.value.kind == "protocol" and "mid-stream" in str(info.value) and len(chunks) == 3
    with pytest.raises(UpstreamError) as info:
        await upstream.send(request(chat("drop-mid-stream")), UpstreamTimeouts())
    assert info.value.kind == "protocol"


async def test_inprocess_aclose_mid_stream_counts_a_cancelled_stream() -> None:
    upstream = InProcessMockUpstream(MockHandler(tokens_per_s=200))
    response = await upstream.send(request(chat(stream=True)), UpstreamTimeouts())
    async for _ in response.iter_chunks():
        break
    await response.aclose()
    await response.aclose()
    assert (
        upstream.handler.stats.cancelled_streams == 1 and upstream.handler.stats.active_streams == 0
    )


async def test_fault_models_answer_like_the_real_providers() -> None:
    handler = MockHandler()
    reply = await handler.handle("POST", CHAT, {}, chat("fail-429"))
    assert reply.headers["x-ratelimit-remaining-requests"] == "0"
    assert reply.headers["x-request-id"].startswith("req_mock")
    quota = await handler.handle("POST", CHAT, {}, chat("fail-quota"))
    error = json.loads(await body_of(quota))["error"]
    assert quota.status == 429 and error["type"] == error["code"] == "insufficient_quota"
    context = await handler.handle("POST", CHAT, {}, chat("fail-400-context"))
    error = json.loads(await body_of(context))["error"]
    assert (context.status, error["code"], error["param"]) == (
        400,
        "context_length_exceeded",
        "messages",
    )
    overloaded = await handler.handle("POST", MESSAGES, {}, anthropic("fail-529"))
    assert overloaded.status == 529 and overloaded.headers["request-id"].startswith("req_mock")
    assert json.loads(await body_of(overloaded)) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert (await handler.handle("POST", CHAT, {}, chat("fail-529"))).status == 503


async def test_a_reasoning_model_refuses_a_limit_with_no_room_to_think() -> None:
    handler = MockHandler()
    hi = [{"role": "user", "content": "Hi"}]
    for limit, status in ((1, 400), (15, 400), (16, 200)):
        body = json.dumps({"model": "gpt-5.2", "messages": hi, "max_completion_tokens": limit})
        reply = await handler.handle("POST", CHAT, {}, body.encode())
        assert reply.status == status
    answer = json.loads(await body_of(reply))
    assert answer["choices"][0]["message"]["content"]
    # `max_tokens` itself is refused, as OpenAI's reasoning models refuse it.
    body = json.dumps({"model": "gpt-5.2", "messages": hi, "max_tokens": 100})
    refused = json.loads(await body_of(await handler.handle("POST", CHAT, {}, body.encode())))
    assert refused["error"]["message"].startswith("Unsupported parameter: 'max_tokens'")
    assert refused["error"]["param"] == "max_tokens"
    # Other models answer one token.
    body = json.dumps({"model": "gpt-4.1", "messages": hi, "max_tokens": 1})
    assert (await handler.handle("POST", CHAT, {}, body.encode())).status == 200
