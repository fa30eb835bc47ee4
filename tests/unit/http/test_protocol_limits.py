"""The [server] HTTP limits in the protocol, fed bytes by hand over a recording transport."""

from __future__ import annotations

import asyncio

from uvicorn.server import ServerState

from gateway.config.types import ServerConfig
from tests.unit.http.protocol_harness import answer as _answer
from tests.unit.http.protocol_harness import protocol as _protocol


def test_more_headers_than_allowed_get_431_and_the_connection_ends() -> None:
    async def main() -> None:
        counted: list[str] = []
        protocol, transport = _protocol(ServerConfig(max_headers=3), counted=counted)
        protocol.data_received(b"GET /v1/messages HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n")
        status, body = _answer(transport)
        assert counted == ["headers_too_large"]
        assert status == 431 and body["type"] == "error"  # the Anthropic route's shape
        assert transport.eof  # no more writes; what the client still sends is dropped
        protocol.data_received(b"GET / HTTP/1.1\r\n\r\n")
        assert transport.written.count(b"HTTP/1.1") == 1
        protocol.connection_lost(None)

    asyncio.run(main())


def test_a_head_streamed_past_the_byte_limit_is_refused_while_read() -> None:
    async def main() -> None:
        protocol, transport = _protocol(ServerConfig(max_header_bytes=1024))
        protocol.data_received(b"GET /healthz HTTP/1.1\r\nx-big: ")
        protocol.data_received(b"a" * 900)
        assert transport.written == b""
        protocol.data_received(b"a" * 1000)  # one read past the limit: refused, not buffered
        status, body = _answer(transport)
        assert status == 431 and body["error"]["code"] == "headers_too_large"
        protocol.connection_lost(None)

    asyncio.run(main())


def test_a_request_the_parser_refuses_gets_a_json_400() -> None:
    async def main() -> None:
        protocol, transport = _protocol(ServerConfig())
        protocol.data_received(b"GET / HTTP/1.1\r\nauthorization: Bearer a\x01b\r\n\r\n")
        status, body = _answer(transport)
        assert status == 400 and body["error"]["code"] == "invalid_http_request"
        protocol.connection_lost(None)

    asyncio.run(main())


def test_a_head_that_stalls_gets_408_and_an_idle_connection_is_closed_silently() -> None:
    async def main() -> None:
        limits = ServerConfig(header_timeout_s=0.01)
        idle, idle_transport = _protocol(limits)
        slow, slow_transport = _protocol(limits)
        slow.data_received(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        for _ in range(200):
            if idle_transport.closed and slow_transport.written:
                break
            await asyncio.sleep(0.005)
        assert idle_transport.closed and idle_transport.written == b""
        status, body = _answer(slow_transport)
        assert status == 408 and body["error"]["code"] == "request_timeout"
        for protocol in (idle, slow):
            protocol.connection_lost(None)

    asyncio.run(main())


def test_a_connection_past_max_connections_gets_503_to_its_request() -> None:
    async def main() -> None:
        state = ServerState()
        limits = ServerConfig(max_connections=1)
        first, _ = _protocol(limits, state)
        second, transport = _protocol(limits, state)
        second.data_received(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        status, body = _answer(transport)
        assert status == 503 and body["error"]["code"] == "too_many_connections"
        assert b"retry-after: 1" in transport.written
        for protocol in (first, second):
            protocol.connection_lost(None)

    asyncio.run(main())
