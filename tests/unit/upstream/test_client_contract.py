"""What every `UpstreamClient` promises, run against each implementation (`subjects.py`): the
HTTP/1.1 client over a loopback server, the in-process mock and the fake."""

from __future__ import annotations

import asyncio

import pytest

from gateway.upstream import FakeReply, UpstreamError, UpstreamRequest, UpstreamTimeouts
from tests.unit.upstream.subjects import SUBJECTS, Subject

KEY = "sk-secret-provider-key"
BODY = b'{"model": "m", "messages": [{"role": "user", "content": "a private prompt"}]}'
JSON = FakeReply(201, {"Content-Type": "application/json", "X-Request-Id": "r-1"}, b'{"ok": 1}')
STREAM = FakeReply(200, {"content-type": "text/event-stream"}, [b"data: 1\n\n", b"data: 2\n\n"])
TIMEOUTS = UpstreamTimeouts(connect_s=2, first_byte_s=2, idle_s=2)


@pytest.fixture(params=sorted(SUBJECTS))
def subject(request: pytest.FixtureRequest) -> Subject:
    made: Subject = SUBJECTS[request.param]()
    return made


def chat(url: str) -> UpstreamRequest:
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    return UpstreamRequest("POST", url + "/v1/chat/completions", headers, BODY)


async def test_a_prepared_request_arrives_exactly_as_the_plain_one(subject: Subject) -> None:
    async with subject.serving(JSON) as (client, url):
        request = chat(url)
        answers = []
        for sent in (request, client.prepare(request)):
            response = await client.send(sent, TIMEOUTS)
            answers.append((response.status, await response.read()))
            await response.aclose()
    assert len(subject.arrivals) == 2 and subject.arrivals[0] == subject.arrivals[1]
    assert answers == [(201, b'{"ok": 1}')] * 2


async def test_reprs_show_neither_the_headers_nor_the_body(subject: Subject) -> None:
    async with subject.serving(JSON) as (client, url):
        request = chat(url)
        prepared = client.prepare(request)
        assert prepared.request == request
        for shown in (repr(request), repr(prepared)):
            assert "/v1/chat/completions" in shown
            assert KEY not in shown and "private prompt" not in shown


async def test_status_lower_cased_headers_and_the_whole_body(subject: Subject) -> None:
    async with subject.serving(JSON) as (client, url):
        response = await client.send(chat(url), TIMEOUTS)
        assert response.status == 201
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-request-id"] == "r-1"
        assert await response.read() == b'{"ok": 1}'
        assert response.body_complete
        await response.aclose()
        await response.aclose()  # idempotent


async def test_stream_chunks_come_in_order_and_end_complete(subject: Subject) -> None:
    async with subject.serving(STREAM) as (client, url):
        response = await client.send(chat(url), TIMEOUTS)
        received = [chunk async for chunk in response.iter_chunks()]
        assert b"".join(received) == b"data: 1\n\ndata: 2\n\n" and all(received)
        assert response.body_complete
        await response.aclose()


async def test_an_error_status_keeps_its_headers_and_body(subject: Subject) -> None:
    limited = FakeReply(429, {"retry-after": "2"}, b'{"error": "slow down"}')
    async with subject.serving(limited) as (client, url):
        response = await client.send(chat(url), TIMEOUTS)
        assert (response.status, response.headers["retry-after"]) == (429, "2")
        assert await response.read() == b'{"error": "slow down"}'
        await response.aclose()


async def test_a_connection_dropped_mid_body_is_a_protocol_error(subject: Subject) -> None:
    dropped = FakeReply(200, {}, [b"data: 1\n\n", UpstreamError("protocol", "dropped")])
    async with subject.serving(dropped) as (client, url):
        response = await client.send(chat(url), TIMEOUTS)
        chunks = response.iter_chunks()
        assert await chunks.__anext__() == b"data: 1\n\n"
        with pytest.raises(UpstreamError) as caught:
            await chunks.__anext__()
        assert caught.value.kind == "protocol"
        assert not response.body_complete
        await response.aclose()


async def test_silence_mid_body_is_an_idle_timeout(subject: Subject) -> None:
    silent = FakeReply(200, {}, [b"data: 1\n\n", UpstreamError("idle_timeout", "silence")])
    async with subject.serving(silent) as (client, url):
        response = await client.send(chat(url), UpstreamTimeouts(idle_s=0.05))
        with pytest.raises(UpstreamError) as caught:
            await response.read()
        assert caught.value.kind == "idle_timeout"
        await response.aclose()


async def test_an_answer_closed_unread_leaves_the_client_usable(subject: Subject) -> None:
    async with subject.serving(STREAM) as (client, url):
        unread = await client.send(chat(url), TIMEOUTS)
        await unread.aclose()
        await unread.aclose()
        response = await client.send(chat(url), TIMEOUTS)
        assert await response.read() == b"data: 1\n\ndata: 2\n\n"
        await response.aclose()
    assert len(subject.arrivals) == 2


async def test_many_requests_at_once_each_get_their_answer(subject: Subject) -> None:
    async with subject.serving(JSON) as (client, url):

        async def one() -> bytes:
            response = await client.send(client.prepare(chat(url)), TIMEOUTS)
            try:
                return await response.read()
            finally:
                await response.aclose()

        assert await asyncio.gather(*(one() for _ in range(8))) == [b'{"ok": 1}'] * 8
    assert len(subject.arrivals) == 8
