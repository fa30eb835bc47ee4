"""An `UpstreamClient` that answers from a function, for tests: no sockets, no clock.

    upstream = FakeUpstream(lambda request: FakeReply(200, body=b'{"ok": true}'))

The handler sees each `UpstreamRequest` and returns a `FakeReply` (or an awaitable of one), or
raises `UpstreamError` to act out a connect error or a timeout before the answer. A reply's body
is bytes, or a list of chunks for a stream; an `UpstreamError` in that list is raised when the
stream reaches it (a connection dropped mid-body, an idle timeout). Every request is recorded.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.upstream.base import (
    PlainPrepared,
    PreparedRequest,
    UpstreamError,
    UpstreamRequest,
    UpstreamTimeouts,
    request_of,
)

Chunk = bytes | UpstreamError


@dataclass(frozen=True)
class FakeReply:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | Sequence[Chunk] = b""


FakeHandler = Callable[[UpstreamRequest], FakeReply | Awaitable[FakeReply]]


class FakeResponse:
    """An `UpstreamResponse` over a `FakeReply`; `closed` says whether `aclose` was called."""

    def __init__(self, reply: FakeReply) -> None:
        self.status = reply.status
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in reply.headers.items()}
        self._chunks: list[Chunk] = (
            [reply.body] if isinstance(reply.body, bytes) else list(reply.body)
        )
        self._failed = False
        self.closed = False

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        while self._chunks:
            chunk = self._chunks.pop(0)
            if isinstance(chunk, UpstreamError):
                self._chunks.clear()
                self._failed = True
                raise chunk
            if chunk:
                yield chunk

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_chunks()])

    @property
    def body_complete(self) -> bool:
        # Nothing here is ever waited for: the body is all in, unless it is to fail on the way.
        failing = self._failed or any(isinstance(c, UpstreamError) for c in self._chunks)
        return not failing

    async def aclose(self) -> None:
        self.closed = True


class FakeUpstream:
    """An `UpstreamClient` whose answers come from `handler`. `requests` holds every request
    sent (prepared or not) and `timeouts` the timeouts it was sent with, in order; `responses`
    every response handed out, so a test can check they were all closed."""

    def __init__(self, handler: FakeHandler) -> None:
        self._handler = handler
        self.requests: list[UpstreamRequest] = []
        self.timeouts: list[UpstreamTimeouts] = []
        self.responses: list[FakeResponse] = []
        self.closed = False

    def prepare(self, request: UpstreamRequest) -> PreparedRequest:
        return PlainPrepared(request)

    async def send(
        self, request: UpstreamRequest | PreparedRequest, timeouts: UpstreamTimeouts
    ) -> FakeResponse:
        """Record the request and answer with the handler's reply (or raise its error)."""
        plain = request_of(request)
        self.requests.append(plain)
        self.timeouts.append(timeouts)
        reply = self._handler(plain)
        if inspect.isawaitable(reply):
            reply = await reply
        response = FakeResponse(reply)
        self.responses.append(response)
        return response

    async def aclose(self) -> None:
        self.closed = True
