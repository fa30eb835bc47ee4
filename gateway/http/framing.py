"""Requests whose framing the HTTP server cannot trust, and the answers it gives them itself.

A body the parser refuses once the request's head was taken (a malformed chunk size, a chunk
without its CRLF, a `Transfer-Encoding` whose last coding is not `chunked`) belongs to a
request already handed to the app, or queued behind the one it is answering: that request is
refused with 400 in the route's JSON shape and the connection closes, so nothing after the
broken body is ever read as a request. The app of a running request sees the client leave,
and finds the server's answer in `body_refusal(scope)` to record it (408 for a body that
stalled, 400 for one that could not be parsed). A request queued behind another is given
`RefusalApp` instead of the route's app: its answer keeps its place in line. Trailer fields
after a chunked body are refused the same way (`NO_TRAILERS`): uvicorn would add them to the
request's headers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, HTTPScope, Scope

from gateway.errors import GatewayError, InvalidRequest, ServiceUnavailable, WireFormat

# Set in a request's scope["extensions"] when the server answered the request itself while the
# app was reading its body; holds the error the server answered.
BODY_REFUSED_EXTENSION = "gateway.body_refused"
# The HTTP versions the gateway speaks; llhttp also reads `HTTP/2.0` and `HTTP/0.9` heads.
HTTP_VERSIONS = frozenset(("1.1", "1.0"))


class TooManyConnections(ServiceUnavailable):
    code = "too_many_connections"


class Refusal(Exception):
    """Raised in a parser callback to stop parsing and answer `error`."""

    def __init__(self, error: GatewayError, reason: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.reason = reason


def body_refusal(scope: Mapping[str, Any]) -> GatewayError | None:
    """The error the server answered this request with while its body was read, if it did."""
    refused: dict[str, GatewayError] | None = (scope.get("extensions") or {}).get(
        BODY_REFUSED_EXTENSION
    )
    return None if refused is None else refused["error"]


def mark_body_refused(scope: HTTPScope, error: GatewayError) -> None:
    extensions = scope.setdefault("extensions", {})
    extensions[BODY_REFUSED_EXTENSION] = {"error": error}


def unsupported_version(version: str) -> InvalidRequest | None:
    """400 for a request line in an HTTP version other than 1.0 and 1.1."""
    if version in HTTP_VERSIONS:
        return None
    message = f"HTTP/{version} is not supported: the gateway speaks HTTP/1.1 and HTTP/1.0"
    return InvalidRequest(message, code="invalid_http_request")


def transfer_coding_error(headers: Iterable[tuple[bytes, bytes]]) -> InvalidRequest | None:
    """400 for a chunked request whose `Transfer-Encoding` says more than `chunked`: llhttp
    reads `identity, chunked` (or `identity` and `chunked` on two lines) as chunked, a proxy
    in front may read the first coding; the gateway decodes no other coding."""
    for name, value in headers:
        if name == b"transfer-encoding" and value.strip().lower() != b"chunked":
            message = f"unsupported Transfer-Encoding {value.decode('latin-1')!r}: only chunked"
            return InvalidRequest(message, code="invalid_http_request")
    return None


class _NoTrailers(list[tuple[bytes, bytes]]):
    """Where the parser's header lines go once the head is complete: a chunked body's trailer
    fields, which uvicorn would append to the request's headers (a trailer `authorization`
    replaced the one of the head a proxy in front had checked or set)."""

    def append(self, field: tuple[bytes, bytes]) -> None:
        error = InvalidRequest("request trailers are not accepted", code="invalid_http_request")
        raise Refusal(error, "invalid_http")


# Never holds anything: one for every connection.
NO_TRAILERS = _NoTrailers()


class RefusalApp:
    """An ASGI app answering `error` in the `wire` shape and closing the connection."""

    def __init__(self, error: GatewayError, wire: WireFormat) -> None:
        self.error = error
        self.wire = wire

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        body = self.error.body(self.wire)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": self.error.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def head_without_upgrade(
    method: bytes, url: bytes, version: str, headers: list[tuple[bytes, bytes]]
) -> bytes:
    """A request head without `Upgrade` and the `upgrade` token of `Connection`."""
    lines = [method, b" ", url, b" HTTP/", version.encode(), b"\r\n"]
    for name, value in headers:
        if name == b"upgrade":
            continue
        if name == b"connection":
            tokens = [t.strip() for t in value.split(b",")]
            value = b", ".join(t for t in tokens if t and t.lower() != b"upgrade")
            if not value:
                continue
        lines += [name, b": ", value, b"\r\n"]
    lines.append(b"\r\n")
    return b"".join(lines)
