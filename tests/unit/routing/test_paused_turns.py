"""A chat client's web search on Claude, whose turn Claude paused: the gateway continues it,
JSON and streamed, and gives the answer so far when it cannot. Claude is played by the mock
provider's planner and renderer (which pause on `pause_turn xN` in the question and refuse
server tool blocks not sent back as they came)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.json_types import JSON
from gateway.mock_provider import render
from gateway.mock_provider.behaviour import RequestError, plan_messages
from gateway.mock_provider.paused_turns import PAUSED_TEXT
from gateway.mock_provider.tool_pairs import check_server_tool_blocks
from gateway.providers.anthropic.paused_turns import MAX_CONTINUATIONS
from gateway.routing.exchange import Exchange
from gateway.sse import SSEDecoder, encode_event
from gateway.upstream import FakeReply, FakeUpstream, UpstreamError, UpstreamRequest
from tests.unit.routing.router_harness import ConfiguredRouter

CONFIG = """
[routing]
max_attempts = 1

[[providers]]
name = "claude"
type = "anthropic"
base_url = "http://claude.invalid"

[[models]]
name = "m"
[[models.deployments]]
provider = "claude"
model = "claude-sonnet-4-5"
"""


def claude(request: UpstreamRequest) -> FakeReply:
    body = orjson.loads(request.body)
    try:
        check_server_tool_blocks(body["messages"])
        plan = plan_messages(body)
    except RequestError as exc:
        error = {"type": "error", "error": {"type": "invalid_request_error", "message": str(exc)}}
        return FakeReply(400, {}, orjson.dumps(error))
    if not plan.stream:
        return FakeReply(200, {}, orjson.dumps(render.anthropic_message(plan, "msg_1")))
    frames = render.anthropic_stream_frames(plan, "msg_1")
    chunks = [b"".join(encode_event(orjson.dumps(e), e["type"]) for e in f) for f in frames]
    return FakeReply(200, {"content-type": "text/event-stream"}, chunks)


def refusing_after(calls: int) -> Any:
    """Claude for the first `calls` calls, then a 500 (or a dropped connection, streamed)."""

    def answer(request: UpstreamRequest) -> FakeReply:
        if len(upstream.requests) > calls:
            raise UpstreamError("connect", "refused")
        return claude(request)

    upstream = FakeUpstream(answer)
    return upstream


async def route(
    tmp_path: Path, upstream: FakeUpstream, question: str, stream: bool, search: bool = True
) -> Exchange:
    body: JSON = {"model": "m", "messages": [{"role": "user", "content": question}]}
    if search:
        body["web_search_options"] = {"search_context_size": "medium"}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return await ConfiguredRouter(tmp_path, CONFIG, upstream).route(body)


async def streamed(exchange: Exchange) -> tuple[str, str | None, JSON]:
    """The chat stream's text, finish reason and usage, read as the responder reads it."""
    reply = exchange.stream
    assert reply is not None
    out = list(reply.pending)
    async for chunk in reply.chunks:
        out += reply.converter.feed(chunk)
    out += reply.converter.finish()
    await reply.aclose()
    chunks = [orjson.loads(e.data) for e in SSEDecoder().feed(b"".join(out)) if e.data != b"[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1]
    return text, finish, chunks[-1]["usage"]


def sent_back(upstream: FakeUpstream) -> list[list[str]]:
    """The block types of the assistant message each continuation sent back."""
    out = []
    for request in upstream.requests[1:]:
        last = orjson.loads(request.body)["messages"][-1]
        assert last["role"] == "assistant"
        out.append([block["type"] for block in last["content"]])
    return out


SEARCHED = ["text", "server_tool_use", "web_search_tool_result"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_paused_turn_is_continued_until_claude_ends_it(
    tmp_path: Path, stream: bool
) -> None:
    upstream = FakeUpstream(claude)
    exchange = await route(tmp_path, upstream, "What is new? pause_turn x2", stream)
    if stream:
        text, finish, usage = await streamed(exchange)
        prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    else:
        answer = exchange.json
        assert answer is not None
        [choice] = answer["choices"]
        text, finish = choice["message"]["content"], choice["finish_reason"]
        prompt, completion = answer["usage"]["prompt_tokens"], answer["usage"]["completion_tokens"]
    assert sent_back(upstream) == [SEARCHED, SEARCHED * 2]  # (a stream's: as it is read)
    # Both pauses' text, then the answer Claude ended the turn with; every call billed.
    assert text.startswith(PAUSED_TEXT * 2) and len(text) > 2 * len(PAUSED_TEXT)
    assert finish == "stop"
    sent_prompts = [plan_messages(orjson.loads(r.body)).prompt_tokens for r in upstream.requests]
    recorded = exchange.stream.converter.usage if exchange.stream else exchange.usage
    assert recorded is not None
    assert prompt == sum(sent_prompts) == recorded.prompt_tokens
    assert completion == recorded.completion_tokens > 24
    assert all(response.closed for response in upstream.responses)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_turn_is_continued_at_most_so_many_times(tmp_path: Path, stream: bool) -> None:
    upstream = FakeUpstream(claude)
    exchange = await route(tmp_path, upstream, "What is new? pause_turn x99", stream)
    if stream:
        text = (await streamed(exchange))[0]
    else:
        assert exchange.json is not None
        text = exchange.json["choices"][0]["message"]["content"]
    assert len(upstream.requests) == 1 + MAX_CONTINUATIONS
    assert text == PAUSED_TEXT * (1 + MAX_CONTINUATIONS)
    assert all(response.closed for response in upstream.responses)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_continuation_that_fails_leaves_the_answer_so_far(
    tmp_path: Path, stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    upstream = refusing_after(2)
    with caplog.at_level(logging.WARNING, "gateway.routing"):
        exchange = await route(tmp_path, upstream, "What is new? pause_turn x5", stream)
    if stream:
        text, finish, _ = await streamed(exchange)
    else:
        assert exchange.json is not None
        text = exchange.json["choices"][0]["message"]["content"]
        finish = exchange.json["choices"][0]["finish_reason"]
    assert text == PAUSED_TEXT * 2 and finish == "stop"
    assert "a paused turn was not continued (connect)" in caplog.text
    assert exchange.attempts[0].status == 200 and exchange.attempts[0].error_kind is None
    assert exchange.attempts[0].continuation_error == "connect"  # recorded and counted


async def test_a_continuation_the_upstream_refuses_is_kept_by_its_status(tmp_path: Path) -> None:
    def answer(request: UpstreamRequest) -> FakeReply:
        if len(upstream.requests) > 1:
            overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}
            return FakeReply(529, {}, orjson.dumps(overloaded))
        return claude(request)

    upstream = FakeUpstream(answer)
    exchange = await route(tmp_path, upstream, "What is new? pause_turn x5", False)
    assert exchange.json is not None
    assert exchange.attempts[0].continuation_error == "http_529"
    finished = await route(tmp_path, FakeUpstream(claude), "What is new? pause_turn x1", False)
    assert finished.attempts[0].continuation_error is None


async def test_a_request_without_a_server_tool_is_never_read_for_a_pause(tmp_path: Path) -> None:
    upstream = FakeUpstream(claude)
    exchange = await route(tmp_path, upstream, "pause_turn x2", False, search=False)
    assert len(upstream.requests) == 1 and exchange.json is not None


async def test_a_continued_stream_is_sent_as_it_comes(tmp_path: Path) -> None:
    """The responder holds the pieces of a complete upstream body back for its end: a turn's
    body is complete only once no continuation can follow, or the continuations' answer would
    wait for the end of the turn (the first call's body is all in here, as over the network
    once it ended)."""
    exchange = await route(tmp_path, FakeUpstream(claude), "What is new? pause_turn x1", True)
    reply = exchange.stream
    assert reply is not None
    complete = [reply.upstream.body_complete async for _ in reply.chunks]
    assert len(complete) > 10 and not any(complete)
    assert reply.upstream.body_complete
    await reply.aclose()
