"""The upstream transport interface: one small async protocol, several implementations.

`http1_client.Http1Upstream` is the pooled network client used on the hot path;
`gateway.mock_provider.inprocess.InProcessMockUpstream` answers in process for `type = "mock"`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol


class UpstreamError(Exception):
    """The upstream could not be reached or stopped answering. `kind` is a bounded label."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = (
            kind  # "connect" | "timeout" | "first_token_timeout" | "idle_timeout" | "protocol"
        )


@dataclass(frozen=True)
class UpstreamRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    connect_timeout_s: float = 5.0
    # Seconds until the response status and headers (and so the first byte) must arrive.
    first_byte_timeout_s: float = 60.0
    # Longest silence between two body chunks.
    idle_timeout_s: float = 60.0
    # The whole HTTP/1.1 request as `http1_client.encode_request` makes it, when it was made
    # ahead (`routing.attempt.draft_first_call`); a client that does not write HTTP/1.1 bytes
    # (the in-process mock) ignores it.
    encoded: bytes | None = None


class UpstreamResponse(Protocol):
    status: int
    headers: Mapping[str, str]  # names lower-cased

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; raises UpstreamError on idle timeout or a dropped connection."""
        ...

    async def read(self) -> bytes:
        """The whole body."""
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
    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Send the request and return once status and headers are in; raises UpstreamError."""
        ...

    async def aclose(self) -> None: ...
