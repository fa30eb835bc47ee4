"""The mock provider as an `UpstreamClient` that calls `MockHandler` directly, with no sockets.

Timeouts and failures surface as they do from the network client: `first_token_timeout` when
no response (or first chunk) arrives in time, `idle_timeout` between chunks, and `protocol`
when the mock drops the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from gateway.mock_provider.handler import MockConnectionDrop, MockHandler, MockReply
from gateway.upstream.base import (
    PlainPrepared,
    PreparedRequest,
    UpstreamError,
    UpstreamRequest,
    UpstreamTimeouts,
    request_of,
)


def _path(url: str) -> str:
    """The path of a URL without its query: mock://local/v1/messages?beta=true -> /v1/messages."""
    start = url.find("://")
    slash = url.find("/", start + 3 if start >= 0 else 0)
    path = url[slash:] if slash >= 0 else "/"
    query = path.find("?")
    return path[:query] if query >= 0 else path


class InProcessMockResponse:
    """An `UpstreamResponse` over a `MockReply`."""

    def __init__(
        self, reply: MockReply, idle_s: float, first_byte_deadline: float, paced: bool
    ) -> None:
        self.status = reply.status
        self.headers: Mapping[str, str] = reply.headers
        self._body = reply.body
        self._idle_s = idle_s
        self._first_byte_deadline = first_byte_deadline
        # Without pacing every chunk is ready at once, so the timeouts cannot fire: skip them.
        self._paced = paced
        self._closed = False
        self._ended = False

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        body = self._body
        kind = "first_token_timeout"
        timeout = max(0.0, self._first_byte_deadline - asyncio.get_running_loop().time())
        while True:
            try:
                if self._paced:
                    async with asyncio.timeout(timeout):
                        chunk = await body.__anext__()
                else:
                    chunk = await body.__anext__()
            except StopAsyncIteration:
                self._ended = True
                return
            except TimeoutError:
                await self.aclose()
                raise UpstreamError(
                    kind, f"no data from the mock upstream for {timeout:.1f}s"
                ) from None
            except MockConnectionDrop:
                await self.aclose()
                raise UpstreamError("protocol", "connection dropped mid-stream") from None
            yield chunk
            kind, timeout = "idle_timeout", self._idle_s

    @property
    def body_complete(self) -> bool:
        return self._ended  # the mock body is a generator: its end is known once it is reached

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_chunks()])

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._body.aclose()  # type: ignore[attr-defined]


class InProcessMockUpstream:
    """`UpstreamClient` answering every request with a `MockHandler` in this process."""

    def __init__(self, handler: MockHandler | None = None) -> None:
        self.handler = handler or MockHandler()

    def prepare(self, request: UpstreamRequest) -> PreparedRequest:
        """Nothing to do ahead: no bytes are written."""
        return PlainPrepared(request)

    async def send(
        self, request: UpstreamRequest | PreparedRequest, timeouts: UpstreamTimeouts
    ) -> InProcessMockResponse:
        """Hand the request to the handler; return once its reply's status and headers are in."""
        plain = request_of(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.first_byte_s
        # A call over the network always suspends its caller, so other requests run meanwhile;
        # this one does too, even with no latency to play (else requests in process would run
        # one after another whatever their number: loadtests/limits_cost.py's `--concurrency`).
        await asyncio.sleep(0)
        try:
            async with asyncio.timeout_at(deadline):
                reply = await self.handler.handle(
                    plain.method, _path(plain.url), plain.headers, plain.body
                )
        except TimeoutError:
            raise UpstreamError(
                "first_token_timeout", "the mock upstream sent no response in time"
            ) from None
        except MockConnectionDrop:
            raise UpstreamError("protocol", "connection dropped before the response") from None
        paced = self.handler.tokens_per_s > 0
        return InProcessMockResponse(reply, timeouts.idle_s, deadline, paced)

    async def aclose(self) -> None:
        return None
