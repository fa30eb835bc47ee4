"""Bodies the parser refuses once their request was handed to the app, and HTTP versions the
gateway does not speak: 400 in the route's shape, the connection closed, nothing behind the
broken request read as a request (gateway/http/framing.py)."""

from __future__ import annotations

import asyncio
import re

import orjson
from starlette.types import Receive, Scope, Send

from gateway.config.types import ServerConfig
from gateway.errors import GatewayError
from gateway.http.framing import body_refusal
from tests.unit.http.protocol_harness import Transport, answer, protocol

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n"
CHUNKED = b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ntransfer-encoding: %s\r\n\r\n"
# Chunk sizes llhttp refuses: past 64 bits, signed, and a chunk without its CRLF.
BROKEN_CHUNKS = (
    b"fffffffffffffffffff1\r\nab\r\n0\r\n\r\n",
    b"-2\r\nab\r\n0\r\n\r\n",
    b"2\r\nab0\r\n\r\n",
)


class _App:
    """Reads the whole body (or the disconnect), keeps what the server refused, answers 200."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.refused: list[GatewayError | None] = []
        self.done = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"])
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.refused.append(body_refusal(scope))
                self.done.set()
                return
            if not message.get("more_body"):
                break
        await asyncio.sleep(0)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        self.done.set()


def _statuses(transport: Transport) -> list[int]:
    return [int(s) for s in re.findall(rb"HTTP/1.1 (\d{3}) ", transport.written)]


async def _answered(transport: Transport, count: int) -> list[int]:
    """The statuses written once `count` answers were, or the loop ran 100 turns without."""
    for _ in range(100):  # an answer takes a turn of the loop or two
        if len(_statuses(transport)) >= count:
            break
        await asyncio.sleep(0)
    return _statuses(transport)


async def _until_closed(transport: Transport) -> None:
    while not (transport.closed or transport.eof):
        await asyncio.sleep(0.001)


def test_a_broken_chunk_in_the_body_being_read_gets_400_at_once() -> None:
    """The app was waiting for the rest of the body: it hung, unanswered, until the request
    deadline, and the connection stayed open."""

    async def main() -> None:
        for chunks in BROKEN_CHUNKS:
            app = _App()
            served, transport = protocol(ServerConfig(), app=app)
            served.data_received(CHUNKED % b"chunked")
            await asyncio.sleep(0)  # the app is reading the body
            served.data_received(chunks + SMUGGLED)
            await asyncio.wait_for(app.done.wait(), 5)
            status, body = answer(transport)
            assert status == 400, chunks
            assert body["error"]["type"] == "invalid_request_error"  # Anthropic's shape
            assert transport.eof  # the refusal's, then the linger
            refused = app.refused[0]
            assert refused is not None and refused.status == 400
            assert app.paths == ["/v1/messages"]  # the bytes behind it were never a request
            served.connection_lost(None)

    asyncio.run(main())


def test_a_transfer_coding_that_does_not_end_in_chunked_gets_400() -> None:
    """A request body of unknown length: it was read until the client closed; and one a proxy
    in front may read by its first coding (`identity, chunked` was read as chunked)."""

    async def main() -> None:
        for coding in (b"xchunked", b"gzip", b"chunked, gzip", b"identity, chunked"):
            app = _App()
            served, transport = protocol(ServerConfig(), app=app)
            served.data_received(CHUNKED % coding + b"2\r\nab\r\n0\r\n\r\n" + SMUGGLED)
            await asyncio.wait_for(_until_closed(transport), 5)
            assert _statuses(transport) == [400], coding
            assert "/smuggled" not in app.paths
            served.connection_lost(None)

    asyncio.run(main())


def test_a_broken_body_queued_behind_a_request_is_refused_in_its_turn() -> None:
    async def main() -> None:
        app = _App()
        served, transport = protocol(ServerConfig(), app=app)
        first = b"GET /first HTTP/1.1\r\nhost: x\r\n\r\n"
        served.data_received(first + CHUNKED % b"chunked" + BROKEN_CHUNKS[1] + SMUGGLED)
        await asyncio.wait_for(_until_closed(transport), 5)
        assert _statuses(transport) == [200, 400]
        assert app.paths == ["/first"]
        refusal = transport.written.partition(b"HTTP/1.1 400")[2]
        assert b"connection: close" in refusal
        assert orjson.loads(refusal.partition(b"\r\n\r\n")[2])["type"] == "error"
        served.connection_lost(None)

    asyncio.run(main())


def test_http_versions_other_than_1_0_and_1_1_get_400() -> None:
    """llhttp reads `HTTP/2.0` and HTTP/0.9's bare request line; both were served."""

    async def main() -> None:
        for head in (b"GET /healthz HTTP/2.0\r\nhost: x\r\n\r\n", b"GET /healthz\r\n\r\n"):
            app = _App()
            served, transport = protocol(ServerConfig(), app=app)
            served.data_received(head + SMUGGLED)
            status, body = answer(transport)
            assert status == 400, head
            assert body["error"]["code"] == "invalid_http_request"
            assert app.paths == []
            served.connection_lost(None)
        served, transport = protocol(ServerConfig(), app=_App())
        served.data_received(b"GET /healthz HTTP/1.0\r\n\r\n")
        await asyncio.wait_for(_until_closed(transport), 5)
        assert _statuses(transport) == [200]
        served.connection_lost(None)

    asyncio.run(main())


def test_a_second_transfer_encoding_line_gets_400_and_chunked_in_any_case_is_served() -> None:
    async def main() -> None:
        two_lines = b"identity\r\ntransfer-encoding: chunked"
        for coding, statuses in ((two_lines, [400]), (b"Chunked", [200, 200])):
            app = _App()
            served, transport = protocol(ServerConfig(), app=app)
            served.data_received(CHUNKED % coding + b"2\r\nab\r\n0\r\n\r\n" + SMUGGLED)
            assert await _answered(transport, len(statuses)) == statuses, coding
            served.connection_lost(None)

    asyncio.run(main())


def test_a_request_queued_with_half_its_body_is_served_after_the_one_before() -> None:
    """Only the request answered before its own body ends its connection: one queued behind
    it, half its body read, is served when its body comes."""

    async def main() -> None:
        app = _App()
        served, transport = protocol(ServerConfig(), app=app)
        first = b"GET /first HTTP/1.1\r\nhost: x\r\n\r\n"
        second = b"POST /second HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nab"
        served.data_received(first + second)
        assert await _answered(transport, 1) == [200]
        served.data_received(b"cd")
        assert await _answered(transport, 2) == [200, 200]
        assert app.paths == ["/first", "/second"]
        assert not (transport.closed or transport.eof)
        served.connection_lost(None)

    asyncio.run(main())


def test_trailer_fields_are_refused_and_never_join_the_head() -> None:
    """uvicorn appended a chunked body's trailers to the request's headers: a trailer
    `authorization` replaced the key a proxy in front had checked, and was used."""

    async def main() -> None:
        app = _App()
        served, transport = protocol(ServerConfig(), app=app)
        trailer = b"0\r\nauthorization: Bearer sk-other\r\n\r\n"
        served.data_received(CHUNKED % b"chunked" + b"2\r\nab\r\n" + trailer + SMUGGLED)
        await asyncio.wait_for(app.done.wait(), 5)
        assert _statuses(transport) == [400]
        _, body = answer(transport)
        assert body["error"]["message"] == "request trailers are not accepted"
        assert app.paths == ["/v1/messages"]
        served.connection_lost(None)

    asyncio.run(main())
