"""Requests pipelined on one connection: a refusal answers after the requests before it, the
head limits hold for a head that begins behind another request, and a request asking to switch
protocols is served as HTTP/1.1 (gateway/http/protocol.py)."""

from __future__ import annotations

import asyncio
import re

import orjson
from starlette.types import Receive, Scope, Send

from gateway.config.types import ServerConfig
from tests.unit.http.protocol_harness import Transport, protocol

CHAT = b'{"model":"m"}'
POST = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (
    len(CHAT),
    CHAT,
)
GET = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers 200 with the body it read, after a turn of the loop (as a real app awaits)."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await asyncio.sleep(0)
    answer = orjson.dumps({"path": scope["path"], "body": body.decode()})
    headers = [(b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def _statuses(transport: Transport) -> list[int]:
    return [int(s) for s in re.findall(rb"HTTP/1.1 (\d{3}) ", transport.written)]


async def _answers(transport: Transport, count: int) -> list[int]:
    for _ in range(400):
        if len(_statuses(transport)) >= count:
            break
        await asyncio.sleep(0.005)
    return _statuses(transport)


def test_a_refusal_behind_a_request_waits_for_its_answer() -> None:
    """HTTP answers in order: a garbage or oversized head pipelined behind a request is
    refused after that request's 200, not in its place (it was lost, with a traceback)."""

    async def main() -> None:
        for behind, status in (
            (b"GARBAGE\r\n\r\n", 400),
            (GET.replace(b"\r\n\r\n", b"\r\n" + b"x: y\r\n" * 5 + b"\r\n"), 431),
        ):
            served, transport = protocol(ServerConfig(max_headers=4), app=_echo)
            served.data_received(POST + GET + behind)
            assert await _answers(transport, 3) == [200, 200, status]
            assert transport.eof and not transport.closed  # the refusal's, then linger
            served.connection_lost(None)

    asyncio.run(main())


def test_a_head_behind_a_request_in_the_same_read_is_held_to_the_size_limit() -> None:
    """Its bytes were not counted (the read's were, then reset by the first head)."""

    async def main() -> None:
        served, transport = protocol(ServerConfig(max_header_bytes=1024), app=_echo)
        big = b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 2000 + b"\r\n\r\n"
        served.data_received(GET + big)
        assert await _answers(transport, 2) == [200, 431]
        served.connection_lost(None)

        served, transport = protocol(ServerConfig(max_header_bytes=1024), app=_echo)
        served.data_received(GET + big[:1500])  # unfinished: refused at most a read past it,
        served.data_received(b"a" * 2000)  # as a head alone is
        assert await _answers(transport, 2) == [200, 431]
        served.connection_lost(None)

    asyncio.run(main())


def test_an_unfinished_head_behind_a_request_gets_the_head_deadline() -> None:
    async def main() -> None:
        served, transport = protocol(ServerConfig(header_timeout_s=0.05), app=_echo)
        served.data_received(GET + b"GET /healthz HTTP/1.1\r\nho")
        assert await _answers(transport, 2) == [200, 408]
        served.connection_lost(None)

    asyncio.run(main())


def test_a_request_asking_to_switch_protocols_is_served_with_its_body() -> None:
    """`curl --http2 http://...` asks for h2c: httptools skipped the body (the app read none)
    and parsed it as the next request. Served as HTTP/1.1 now, and the request behind it too."""

    async def main() -> None:
        served, transport = protocol(ServerConfig(), app=_echo)
        upgrade = POST.replace(
            b"host: x\r\n", b"host: x\r\nconnection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\n"
        )
        head, _, body = upgrade.partition(b"\r\n\r\n")
        served.data_received(head + b"\r\n\r\n")
        served.data_received(body + GET)
        assert await _answers(transport, 2) == [200, 200]
        assert b'"body":' + orjson.dumps(CHAT.decode()) in transport.written  # the app read it
        assert b"upgrade" not in transport.written.lower()
        served.connection_lost(None)

    asyncio.run(main())


def test_connect_is_refused() -> None:
    async def main() -> None:
        served, transport = protocol(ServerConfig(), app=_echo)
        served.data_received(b"CONNECT example.com:443 HTTP/1.1\r\nhost: example.com\r\n\r\n")
        assert await _answers(transport, 1) == [400]
        assert b"not a forward proxy" in transport.written
        served.connection_lost(None)

    asyncio.run(main())
