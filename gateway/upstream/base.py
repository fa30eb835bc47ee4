"""The upstream transport interface: one small async protocol, several implementations.

`http1.Http1Upstream` (hand-written HTTP/1.1, the fast path) and `httpx_transport.HttpxUpstream`
(httpx, the reference: proxies, HTTP/2) are the network clients, picked per provider by
`transports.py`; `gateway.mock_provider.inprocess.InProcessMockUpstream` answers in process for
`type = "mock"`; `fake.FakeUpstream` answers from a test's handler.

Every network client decodes gzip, deflate, br and zstd bodies, never follows a redirect
(`UpstreamRedirect`) and stops a body at the provider's `max_response_bytes` (`UpstreamTooLarge`).

A client may do the CPU work of a request ahead of sending it (`prepare`): what it makes is
opaque to the caller and accepted only by that client's `send`, so the trick stays inside the
client that profits from it. Sending a plain `UpstreamRequest` is always allowed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class UpstreamError(Exception):
    """The upstream could not be reached or stopped answering. `kind` is a bounded label.

    UpstreamError                 kind: connect, first_token_timeout, idle_timeout, protocol
     +-- UpstreamTLSError         tls: the upstream's certificate is not trusted, or no handshake
     +-- UpstreamRedirect         redirect: a 3xx answer (never followed: it would carry the key)
     +-- UpstreamTooLarge         too_large: the body passed the provider's max_response_bytes
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class UpstreamTLSError(UpstreamError):
    def __init__(self, message: str) -> None:
        super().__init__("tls", message)


class UpstreamRedirect(UpstreamError):
    def __init__(self, status: int, location: str) -> None:
        shown = location.split("?", 1)[0] or "(no Location)"  # a query may carry a signed token
        super().__init__("redirect", f"upstream answered {status} redirecting to {shown}")
        self.status = status
        self.location = shown


class UpstreamTooLarge(UpstreamError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "too_large", f"upstream response is larger than max_response_bytes ({limit})"
        )
        self.limit = limit


# The statuses that redirect; 300 and 304 name no single new location.
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))


def redirect_error(status: int, headers: Mapping[str, str]) -> UpstreamRedirect:
    """The error a redirect answer becomes (`headers` lower-cased)."""
    return UpstreamRedirect(status, headers.get("location", ""))


@dataclass(frozen=True)
class UpstreamRequest:
    """What goes on the wire, nothing else."""

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)  # carries the provider key: never in a repr
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class UpstreamTimeouts:
    connect_s: float = 5.0
    first_byte_s: float = 60.0  # until status and headers arrive
    idle_s: float = 60.0  # longest silence between two body chunks


class PreparedRequest(Protocol):
    """Made by one client's `prepare`, accepted by that client's `send`; opaque to callers."""

    @property
    def request(self) -> UpstreamRequest: ...


@dataclass(frozen=True, slots=True)
class PlainPrepared:
    """The prepared form of a request a client has no work to do ahead for: the request itself."""

    request: UpstreamRequest


def request_of(request: UpstreamRequest | PreparedRequest) -> UpstreamRequest:
    """The request itself, whether it came prepared or not."""
    return request if isinstance(request, UpstreamRequest) else request.request


class UpstreamResponse(Protocol):
    status: int
    headers: Mapping[str, str]  # names lower-cased

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; raises UpstreamError on a timeout or a dropped connection."""
        ...

    async def read(self) -> bytes:
        """The whole body (decoded)."""
        ...

    @property
    def body_complete(self) -> bool:
        """True once the whole body has arrived, so `read` and `iter_chunks` will not wait; lets
        a relay send its final piece together with the end of its own response."""
        ...

    async def aclose(self) -> None:
        """Release (or, if the body was not fully read, close) the connection. Idempotent."""
        ...


class UpstreamClient(Protocol):
    def prepare(self, request: UpstreamRequest) -> PreparedRequest:
        """Do the CPU work of sending ahead (HTTP/1.1: encode the bytes). No I/O, and never
        raises: a request that cannot be sent fails in `send`, as it would unprepared."""
        ...

    async def send(
        self, request: UpstreamRequest | PreparedRequest, timeouts: UpstreamTimeouts
    ) -> UpstreamResponse:
        """Send the request (prepared by this client, or not) and return once status and
        headers are in; raises UpstreamError. A prepared request is sent exactly as the plain
        one would be."""
        ...

    async def aclose(self) -> None:
        """Close every connection. Idempotent."""
        ...


class WholeResponse:
    """An `UpstreamResponse` whose whole body is at hand: an answer the gateway gives in the
    upstream's place (`gateway.providers.chat_cut_short`)."""

    body_complete = True

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self._body = body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield self._body

    async def read(self) -> bytes:
        return self._body

    async def aclose(self) -> None:
        pass
