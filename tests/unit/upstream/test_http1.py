"""The hot-path HTTP/1.1 upstream client against real loopback servers that misbehave on cue."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest

from gateway.upstream.base import UpstreamError, UpstreamRequest, UpstreamTimeouts
from gateway.upstream.http1 import Http1Upstream
from gateway.upstream.http1_request import request_bytes
from tests.unit.upstream.loopback import Handler, loopback_server, read_request


def answer(body: bytes, *, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


@contextlib.asynccontextmanager
async def upstream(handler: Handler) -> AsyncIterator[tuple[Http1Upstream, str]]:
    """A loopback server running `handler` per connection, and a client for it."""
    async with loopback_server(handler) as url:
        client = Http1Upstream()
        try:
            yield client, url
        finally:
            await client.aclose()


def post(url: str, body: bytes = b"{}") -> UpstreamRequest:
    return UpstreamRequest(
        "POST", url + "/v1/chat/completions", {"content-type": "application/json"}, body
    )


DEFAULT = UpstreamTimeouts()


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_content_length_answers_reuse_one_connection() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                _, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            writer.write(answer(b"echo:" + body))
            await writer.drain()
        writer.close()

    async def main() -> None:
        async with upstream(handler) as (client, url):
            for n in range(3):
                response = await client.send(post(url, f"{n}".encode()), DEFAULT)
                assert response.status == 200 and response.headers["content-length"] == "6"
                assert await response.read() == f"echo:{n}".encode()
                await response.aclose()

    run(main())
    assert connections == 1


def test_chunked_body_arrives_piece_by_piece() -> None:
    release = asyncio.Event

    async def main() -> None:
        go = release()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
                b"content-type: text/event-stream\r\n\r\n"
            )
            writer.write(b"6\r\nfirst.\r\n")
            await writer.drain()
            await go.wait()
            writer.write(b"7\r\nsecond.\r\n0\r\n\r\n")
            await writer.drain()

        async with upstream(handler) as (client, url):
            response = await client.send(post(url), DEFAULT)
            chunks = response.iter_chunks()
            assert await chunks.__anext__() == b"first."
            go.set()
            assert [chunk async for chunk in chunks] == [b"second."]
            await response.aclose()

    run(main())


def test_a_body_without_length_ends_when_the_upstream_closes() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    async def main() -> None:
        async with upstream(handler) as (client, url):
            response = await client.send(post(url), DEFAULT)
            assert await response.read() == b"all of it"
            await response.aclose()

    run(main())


def test_gzip_answers_are_decoded() -> None:
    payload = b'{"answer": "' + b"x" * 5000 + b'"}'

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(gzip.compress(payload), extra="content-encoding: gzip\r\n"))
        await writer.drain()

    async def main() -> None:
        async with upstream(handler) as (client, url):
            response = await client.send(post(url), DEFAULT)
            assert await response.read() == payload

    run(main())


def test_a_pooled_connection_the_upstream_dropped_is_retried_once_on_a_fresh_one() -> None:
    served = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await read_request(reader)
        served += 1
        writer.write(answer(b"ok"))  # says keep-alive (HTTP/1.1) ...
        await writer.drain()
        # ... but drops the connection as soon as the next request arrives, without answering.
        await reader.read(1)
        writer.transport.abort()

    async def main() -> None:
        async with upstream(handler) as (client, url):
            for _ in range(3):
                response = await client.send(post(url), DEFAULT)
                assert await response.read() == b"ok"
                await response.aclose()

    run(main())
    assert served == 3


def test_no_answer_in_time_is_a_first_token_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def main() -> None:
        async with upstream(handler) as (client, url):
            with pytest.raises(UpstreamError) as caught:
                await client.send(post(url), UpstreamTimeouts(first_byte_s=0.05))
            assert caught.value.kind == "first_token_timeout"

    run(main())


def test_silence_mid_body_is_an_idle_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        await asyncio.sleep(5)

    async def main() -> None:
        async with upstream(handler) as (client, url):
            response = await client.send(post(url), UpstreamTimeouts(idle_s=0.05))
            chunks = response.iter_chunks()
            assert await chunks.__anext__() == b"abc"
            with pytest.raises(UpstreamError) as caught:
                await chunks.__anext__()
            assert caught.value.kind == "idle_timeout"
            await response.aclose()

    run(main())


def test_a_connection_dropped_mid_body_is_a_protocol_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly a part")
        await writer.drain()
        writer.transport.abort()

    async def main() -> None:
        async with upstream(handler) as (client, url):
            response = await client.send(post(url), DEFAULT)
            with pytest.raises(UpstreamError) as caught:
                await response.read()
            assert caught.value.kind == "protocol"

    run(main())


def test_garbage_instead_of_http_is_a_protocol_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"this is not HTTP at all\r\n\r\n")
        await writer.drain()

    async def main() -> None:
        async with upstream(handler) as (client, url):
            with pytest.raises(UpstreamError) as caught:
                await client.send(post(url), DEFAULT)
            assert caught.value.kind == "protocol"

    run(main())


def test_a_closed_port_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main() -> None:
        client = Http1Upstream()
        with pytest.raises(UpstreamError) as caught:
            await client.send(post(f"http://127.0.0.1:{port}"), DEFAULT)
        assert caught.value.kind == "connect"
        await client.aclose()

    run(main())


def test_closing_an_unread_answer_closes_the_connection() -> None:
    async def main() -> None:
        closed = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
            await writer.drain()
            await reader.read()  # returns b"" once the client closes the connection
            closed.set()

        async with upstream(handler) as (client, url):
            response = await client.send(post(url), DEFAULT)
            await response.aclose()
            await asyncio.wait_for(closed.wait(), 1.0)

    run(main())


def test_request_head_carries_host_length_and_refuses_line_breaks() -> None:
    head = request_bytes(
        "POST", ("http", "example.test", 8000), "/v1/x", {"authorization": "Bearer k"}, b"{}"
    )
    assert head.startswith(b"POST /v1/x HTTP/1.1\r\nhost: example.test:8000\r\n")
    assert b"authorization: Bearer k\r\ncontent-length: 2\r\n\r\n{}" in head
    assert request_bytes("GET", ("https", "api.test", 443), "/", {}, b"").startswith(
        b"GET / HTTP/1.1\r\nhost: api.test\r\n"
    )
    with pytest.raises(UpstreamError):
        request_bytes("POST", ("http", "h", 80), "/", {"x-evil": "a\r\nx-injected: 1"}, b"")
    with pytest.raises(UpstreamError):
        request_bytes("POST", ("http", "h", 80), "/", {"authorization": "Bearer \u2603"}, b"")


def test_a_body_larger_than_the_read_buffer_arrives_whole() -> None:
    payload = bytes(range(256)) * 12_000  # 3 MB: reading pauses and resumes on the way

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(payload))
        await writer.drain()

    async def main() -> None:
        async with upstream(handler) as (client, url):
            response = await client.send(post(url), DEFAULT)
            received = bytearray()
            async for chunk in response.iter_chunks():
                received += chunk
                await asyncio.sleep(0)
            assert bytes(received) == payload

    run(main())


def test_a_request_that_cannot_be_encoded_is_prepared_anyway_and_fails_in_send() -> None:
    client = Http1Upstream()
    injected = UpstreamRequest("POST", "http://h.test/", {"x-evil": "a\r\nx-injected: 1"}, b"")
    unsupported = UpstreamRequest("POST", "ftp://h.test/", {}, b"")

    async def main() -> None:
        for request in (injected, unsupported):
            prepared = client.prepare(request)
            assert prepared.request is request
            with pytest.raises(UpstreamError) as caught:
                await client.send(prepared, DEFAULT)
            assert caught.value.kind in ("protocol", "connect")
        await client.aclose()

    run(main())


def test_a_failed_body_gives_its_connection_up_at_once() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        await reader.read()  # until the client closes

    async def main() -> None:
        async with upstream(handler) as (client, url):
            response = await client.send(post(url), UpstreamTimeouts(idle_s=0.05))
            with pytest.raises(UpstreamError):
                await response.read()
            assert response._connection.closed  # not left open until someone calls aclose
            assert not response.body_complete

    run(main())
