"""FakeUpstream: what a router test can script and what it can check afterwards."""

from __future__ import annotations

import pytest

import gateway.upstream
from gateway.upstream import (
    FakeReply,
    FakeUpstream,
    UpstreamClient,
    UpstreamError,
    UpstreamRequest,
    UpstreamTimeouts,
)

FIRST = UpstreamRequest("POST", "https://a.test/v1/chat/completions", {"x-n": "1"}, b"1")
SECOND = UpstreamRequest("POST", "https://b.test/v1/chat/completions", {"x-n": "2"}, b"2")


def test_the_package_exports_the_interface_and_the_fake() -> None:
    assert set(gateway.upstream.__all__) == {
        "FakeReply",
        "FakeUpstream",
        "PreparedRequest",
        "UpstreamClient",
        "UpstreamError",
        "UpstreamRequest",
        "UpstreamResponse",
        "UpstreamTimeouts",
        "WholeResponse",
        "request_of",
    }
    assert all(hasattr(gateway.upstream, name) for name in gateway.upstream.__all__)


async def test_every_request_and_its_timeouts_are_recorded_in_order() -> None:
    upstream = FakeUpstream(lambda request: FakeReply(body=request.body))
    short = UpstreamTimeouts(first_byte_s=1.5)
    first = await upstream.send(FIRST, UpstreamTimeouts())
    second = await upstream.send(upstream.prepare(SECOND), short)
    assert [await first.read(), await second.read()] == [b"1", b"2"]
    assert upstream.requests == [FIRST, SECOND]
    assert upstream.timeouts == [UpstreamTimeouts(), short]


async def test_an_async_handler_can_decide_by_what_it_saw_before() -> None:
    seen: list[str] = []

    async def flaky(request: UpstreamRequest) -> FakeReply:
        seen.append(request.url)
        return FakeReply(503) if len(seen) == 1 else FakeReply(200, body=b"ok")

    upstream: UpstreamClient = FakeUpstream(flaky)
    statuses = [(await upstream.send(FIRST, UpstreamTimeouts())).status for _ in range(2)]
    assert statuses == [503, 200]


async def test_an_error_raised_by_the_handler_comes_out_of_send() -> None:
    def refuse(request: UpstreamRequest) -> FakeReply:
        raise UpstreamError("connect", "cannot connect to upstream")

    upstream = FakeUpstream(refuse)
    with pytest.raises(UpstreamError) as caught:
        await upstream.send(FIRST, UpstreamTimeouts())
    assert caught.value.kind == "connect"
    assert upstream.requests == [FIRST] and upstream.responses == []


async def test_a_stream_fails_where_its_script_says() -> None:
    reply = FakeReply(
        200,
        {"Content-Type": "text/event-stream"},
        [b"a", b"b", UpstreamError("protocol", "dropped"), b"never"],
    )
    upstream = FakeUpstream(lambda request: reply)
    response = await upstream.send(FIRST, UpstreamTimeouts())
    assert response.headers == {"content-type": "text/event-stream"}
    assert not response.body_complete  # it is scripted to fail before its end
    received = []
    with pytest.raises(UpstreamError) as caught:
        async for chunk in response.iter_chunks():
            received.append(chunk)
    assert received == [b"a", b"b"] and caught.value.kind == "protocol"


async def test_the_same_reply_serves_every_request_whole() -> None:
    reply = FakeReply(200, body=[b"x", b"y"])
    upstream = FakeUpstream(lambda request: reply)
    for _ in range(2):
        response = await upstream.send(FIRST, UpstreamTimeouts())
        assert await response.read() == b"xy"


async def test_it_tells_which_responses_and_whether_the_client_were_closed() -> None:
    upstream = FakeUpstream(lambda request: FakeReply(body=b"{}"))
    kept = await upstream.send(FIRST, UpstreamTimeouts())
    closed = await upstream.send(SECOND, UpstreamTimeouts())
    await closed.aclose()
    assert [response.closed for response in upstream.responses] == [False, True]
    assert upstream.responses == [kept, closed] and not upstream.closed
    await upstream.aclose()
    assert upstream.closed
