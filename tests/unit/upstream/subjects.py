"""The `UpstreamClient` implementations the contract suite runs against, each made to answer a
scripted `FakeReply` the way its own upstream would.

In a script's body list, `UpstreamError("protocol", ...)` means "the upstream drops the
connection here" and `UpstreamError("idle_timeout", ...)` "the upstream goes silent here": the
real clients must notice each on their own, the fake raises it as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from gateway.config.provider_types import NetworkConfig
from gateway.mock_provider.handler import MockConnectionDrop, MockHandler, MockReply
from gateway.mock_provider.inprocess import InProcessMockUpstream
from gateway.upstream import (
    FakeReply,
    FakeUpstream,
    UpstreamClient,
    UpstreamError,
    UpstreamRequest,
)
from gateway.upstream.transports import ConcreteTransport, transport_class
from tests.unit.upstream.loopback import loopback_server, read_request


class Subject(Protocol):
    name: str
    # Each request as the upstream received it (raw bytes for HTTP/1.1), in order.
    arrivals: list[object]

    def serving(
        self, reply: FakeReply
    ) -> contextlib.AbstractAsyncContextManager[tuple[UpstreamClient, str]]:
        """A client, and the base URL at which every request gets `reply`."""
        ...


def _chunks(reply: FakeReply) -> list[bytes | UpstreamError]:
    return [reply.body] if isinstance(reply.body, bytes) else list(reply.body)


def _http_bytes(reply: FakeReply) -> list[bytes | UpstreamError]:
    """The reply as an HTTP/1.1 server writes it: the head, then each piece of the body."""
    head = f"HTTP/1.1 {reply.status} X\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in reply.headers.items()
    )
    if isinstance(reply.body, bytes):
        return [f"{head}content-length: {len(reply.body)}\r\n\r\n".encode() + reply.body]
    pieces: list[bytes | UpstreamError] = [f"{head}transfer-encoding: chunked\r\n\r\n".encode()]
    for chunk in reply.body:
        pieces.append(
            chunk if isinstance(chunk, UpstreamError) else b"%x\r\n%s\r\n" % (len(chunk), chunk)
        )
    pieces.append(b"0\r\n\r\n")
    return pieces


class _NetworkSubject:
    """A network client (`transport`) over a loopback HTTP/1.1 server."""

    transport: ConcreteTransport

    def __init__(self) -> None:
        self.arrivals: list[object] = []
        self.name: str = self.transport

    @contextlib.asynccontextmanager
    async def serving(self, reply: FakeReply) -> AsyncIterator[tuple[UpstreamClient, str]]:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while not reader.at_eof():
                try:
                    head, body = await read_request(reader)
                except asyncio.IncompleteReadError:
                    return
                self.arrivals.append(head + body)
                for piece in _http_bytes(reply):
                    if isinstance(piece, UpstreamError):
                        if piece.kind == "idle_timeout":
                            await reader.read()  # silent until the client gives up
                        writer.transport.abort()
                        return
                    writer.write(piece)
                    await writer.drain()

        async with loopback_server(handler) as url:
            client = transport_class(self.transport)(NetworkConfig(trust_env=False))
            try:
                yield client, url
            finally:
                await client.aclose()


class Http1Subject(_NetworkSubject):
    transport = "http1"


class HttpxSubject(_NetworkSubject):
    transport = "httpx"


class _ScriptedMockHandler(MockHandler):
    """A `MockHandler` that answers every request with one script."""

    def __init__(self, reply: FakeReply, arrivals: list[object]) -> None:
        super().__init__(tokens_per_s=1000)  # paced, so the in-process client watches timeouts
        self._script = reply
        self._arrivals = arrivals

    async def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> MockReply:
        self._arrivals.append((method, path, dict(headers), body))
        lowered = {k.lower(): v for k, v in self._script.headers.items()}
        return MockReply(self._script.status, lowered, self._body())

    async def _body(self) -> AsyncIterator[bytes]:
        for chunk in _chunks(self._script):
            if isinstance(chunk, UpstreamError):
                if chunk.kind == "idle_timeout":
                    await asyncio.Event().wait()
                raise MockConnectionDrop()
            yield chunk


class InProcessSubject:
    name = "inprocess"

    def __init__(self) -> None:
        self.arrivals: list[object] = []

    @contextlib.asynccontextmanager
    async def serving(self, reply: FakeReply) -> AsyncIterator[tuple[UpstreamClient, str]]:
        client = InProcessMockUpstream(_ScriptedMockHandler(reply, self.arrivals))
        try:
            yield client, "mock://local"
        finally:
            await client.aclose()


class FakeSubject:
    name = "fake"

    def __init__(self) -> None:
        self.arrivals: list[object] = []

    @contextlib.asynccontextmanager
    async def serving(self, reply: FakeReply) -> AsyncIterator[tuple[UpstreamClient, str]]:
        def answer(request: UpstreamRequest) -> FakeReply:
            self.arrivals.append(request)
            return reply

        client = FakeUpstream(answer)
        try:
            yield client, "http://fake.test"
        finally:
            await client.aclose()


SUBJECTS: dict[str, type[Subject]] = {
    "http1": Http1Subject,
    "httpx": HttpxSubject,
    "inprocess": InProcessSubject,
    "fake": FakeSubject,
}
