"""uvicorn's httptools protocol, with a response's headers sent together with its first body.

uvicorn writes the status line and headers as soon as the app sends `http.response.start`,
then each body message on its own, and uvloop turns every write into a `send` syscall at once.
A JSON answer so costs two syscalls and two wake-ups of the client. `HeadersWithBody` holds the
header block back until the next write (the body, which the app sends right after) and sends
both as one; if no body follows in the same turn of the event loop, the headers leave at the end
of that turn (`loop.call_soon`), so a stream's headers never wait for its first token. Body
writes are never delayed.

`GuardedHttpToolsProtocol` adds the `[server]` HTTP limits uvicorn has no setting for under
httptools (its `h11_max_incomplete_event_size` is h11's; `limit_concurrency` answers plain
text): the size and number of request headers (431), a deadline for the request head and an
idle deadline inside the body (408), and `max_connections` (503). Sizes are checked while
reading, so an oversized head is refused after at most one socket read past the limit, never
buffered whole. A refused connection gets its answer in the route's JSON error shape, then the
gateway stops writing and drops what the client still sends until it closes (at most
`LINGER_S`), so the client reads the answer instead of a reset.

With `listener` (the listening socket, which `gateway serve` gives), a connection libuv hands
over first accepts the connections waiting behind it, up to `accept_limit` (`accept.py`), so a
burst of new clients is not read one per turn of a busy loop.

`GuardedHttpToolsProtocol` is what `gateway serve` (gateway/cli.py) gives uvicorn as its `http`
protocol class, bound to the `[server]` table read at start.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import Callable, MutableMapping
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.config.types import ServerConfig
from gateway.errors import (
    GatewayError,
    HeadersTooLarge,
    InvalidRequest,
    RequestTimeout,
    ServiceUnavailable,
)
from gateway.http.accept import MAX_PER_TURN, SHARED_PER_TURN, accept_waiting
from gateway.http.refusals import RateLimitedLog, refusal_bytes, wire_for_url

log = logging.getLogger("gateway.http")
# Longest a refused connection is kept open, reading and dropping, after its answer.
LINGER_S = 2.0
# Set in a request's scope["extensions"] when its body stalled past `body_timeout_s`: the app
# then records a 408 instead of a client that left.
BODY_TIMEOUT_EXTENSION = "gateway.body_timeout"
# The app's lifespan state may hold, under this key, a callable counting a refusal by reason.
COUNT_REFUSAL_STATE = "gateway.count_http_refusal"


class HeadersWithBody:
    """A transport proxy: a header block waits for the next write; the rest passes through."""

    __slots__ = ("_head", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head = b""

    def write(self, data: bytes) -> None:
        if self._head:
            data = self._head + data
            self._head = b""
        elif data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n"):
            self._head = data
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        if self._head:
            head, self._head = self._head, b""
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeadersWithBody(transport, self.loop))  # type: ignore[arg-type]


def body_timed_out(scope: MutableMapping[str, Any]) -> bool:
    """Whether the server ended this request's body for stalling past `body_timeout_s`."""
    return BODY_TIMEOUT_EXTENSION in (scope.get("extensions") or {})


class TooManyConnections(ServiceUnavailable):
    code = "too_many_connections"


class _Refusal(Exception):
    """Raised in a parser callback to stop parsing and answer `error`."""

    def __init__(self, error: GatewayError, reason: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.reason = reason


class _CapacityLog:
    """One line when a process reaches `max_connections`, one when it is below it again (each
    at most once a second: a process hovering at the cap does not flood the log)."""

    full = False

    def __init__(self) -> None:
        self._log = RateLimitedLog(log)

    def refused(self, limit: int) -> None:
        if not self.full:
            self.full = True
            message = f"max_connections ({limit}) reached: new connections get 503 until some close"
            self._log.warning("reached", message)

    def accepted(self) -> None:
        if self.full:
            self.full = False
            self._log.warning("below", "connections are below max_connections again")


_REFUSALS = RateLimitedLog(log)
_CAPACITY = _CapacityLog()


class GuardedHttpToolsProtocol(CoalescingHttpToolsProtocol):
    """The coalescing protocol, with the `[server]` header, deadline and connection limits."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ServerConfig | None = None,
        listener: socket.socket | None = None,
        accept_limit: int = MAX_PER_TURN,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits or ServerConfig()
        self._listener = listener
        self._accept_limit = accept_limit
        self._reading_head = True
        self._head_bytes = 0  # bytes received since this request's head began
        self._deadline: asyncio.TimerHandle | None = None
        self._head_started = 0.0
        self._last_body_at = 0.0
        self._over_capacity = False
        self._refused = False
        self._confirming = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._over_capacity = len(self.connections) >= self.limits.max_connections
        super().connection_made(transport)
        if self._over_capacity:
            _CAPACITY.refused(self.limits.max_connections)
        else:
            _CAPACITY.accepted()
        # A connection that never sends a request is closed after the head deadline too.
        self._arm(self.limits.header_timeout_s, self._head_too_slow)
        if self._listener is not None:
            # Those accepted here do not look again: this call took all it may take, and the
            # next connection libuv hands over takes the next ones.
            serve = functools.partial(
                type(self), self.config, self.server_state, self.app_state, limits=self.limits
            )
            accept_waiting(self._listener, self.loop, serve, self._accept_limit)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered already: drop the rest until the client closes
        self._unset_keepalive_if_required()
        if self._reading_head:
            if not self._head_bytes:
                self._head_started = self.loop.time()
            self._head_bytes += len(data)
        elif self._deadline is not None:
            self._last_body_at = self.loop.time()  # the body's idle deadline is armed
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            refusal = exc.__context__
            if isinstance(refusal, _Refusal):
                self._refuse(refusal.error, refusal.reason)
            else:
                message = f"invalid HTTP request: {exc}"
                self._refuse(InvalidRequest(message, code="invalid_http_request"), "invalid_http")
            return
        # Deadlines are armed only for a head or body that did not arrive whole: a request
        # that comes in one read makes no timer.
        if self._reading_head:
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(self._too_large(), "headers_too_large")
            elif self._head_bytes and self._deadline is None:
                left = self._head_started + self.limits.header_timeout_s - self.loop.time()
                self._arm(max(left, 0.0), self._head_too_slow)
        elif self._deadline is None and self.cycle is not None and self.cycle.more_body:
            self._last_body_at = self.loop.time()
            self._arm(self.limits.body_timeout_s, self._body_too_slow)

    # Parser callbacks: uvicorn's own, the head's limits checked once it is complete (each
    # read of an unfinished head is checked in `data_received`, so it never grows past one
    # read over the limit).

    def on_headers_complete(self) -> None:
        limits = self.limits
        # The bytes read since the head began bound its size: most heads need no sum.
        if len(self.headers) > limits.max_headers or (
            self._head_bytes > limits.max_header_bytes
            and len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
            > limits.max_header_bytes
        ):
            raise _Refusal(self._too_large(), "headers_too_large")
        self._reading_head = False
        self._head_bytes = 0
        self._cancel_deadline()
        if self._over_capacity:
            message = "the gateway is serving its maximum number of connections; retry shortly"
            raise _Refusal(TooManyConnections(message), "max_connections")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True
        self._cancel_deadline()

    # Deadlines and refusals

    def _too_large(self) -> HeadersTooLarge:
        limits = self.limits
        return HeadersTooLarge(
            f"request headers exceed the limit of {limits.max_header_bytes} bytes "
            f"or {limits.max_headers} headers"
        )

    def _arm(self, delay_s: float, callback: Callable[[], None]) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(delay_s, callback)

    def _cancel_deadline(self) -> None:
        self._confirming = False
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_too_slow(self) -> None:
        self._deadline = None
        if not self._confirm(self._head_too_slow):
            return
        if not self._head_bytes:
            self.transport.close()  # no request started: nothing to answer
            return
        timeout = self.limits.header_timeout_s
        message = f"the request headers did not arrive within {timeout:g} s"
        self._refuse(RequestTimeout(message), "header_timeout")

    def _confirm(self, callback: Callable[[], None]) -> bool:
        """Whether a deadline that passed still holds one loop iteration later.

        Timers run before the loop reads its sockets: after the loop was busy, bytes the
        client sent in time may still wait to be read. Look again after they were."""
        if self._confirming:
            self._confirming = False
            return True
        self._confirming = True
        self._deadline = self.loop.call_later(0.001, callback)
        return False

    def _body_too_slow(self) -> None:
        self._deadline = None
        timeout = self.limits.body_timeout_s
        now = self.loop.time()
        if self.flow.read_paused:
            # The app is behind, not the client: the wait does not count against it.
            self._last_body_at = now
        idle = now - self._last_body_at
        if idle < timeout:
            self._confirming = False
            self._arm(timeout - idle, self._body_too_slow)
            return
        if not self._confirm(self._body_too_slow):
            return
        cycle = self.cycle
        if cycle.response_started:
            self.transport.close()  # answered before the body came; it never finished
            return
        cycle.scope.setdefault("extensions", {})[BODY_TIMEOUT_EXTENSION] = {}
        cycle.disconnected = True  # the app's own answer is dropped; it records the 408
        cycle.message_event.set()
        message = f"the request body stalled for more than {timeout:g} s"
        self._refuse(RequestTimeout(message), "body_timeout")

    def _refuse(self, error: GatewayError, reason: str) -> None:
        """Answer `error` in the route's shape, stop reading requests, close soon."""
        self._refused = True
        self._cancel_deadline()
        self._unset_keepalive_if_required()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "client"
        _REFUSALS.warning(reason, f"{client}: {error.status} {error.code}: {error.message}")
        count = self.app_state.get(COUNT_REFUSAL_STATE)
        if count is not None:
            count(reason)
        transport = self.transport
        if transport.is_closing():
            return
        headers = (("retry-after", "1"),) if error.status == 503 else ()
        transport.write(refusal_bytes(error, wire_for_url(getattr(self, "url", b"")), headers))
        try:
            transport.write_eof()
        except (NotImplementedError, OSError, RuntimeError):
            transport.close()
            return
        self._deadline = self.loop.call_later(LINGER_S, transport.close)


def serving_protocol(
    limits: ServerConfig, listener: socket.socket, workers: int
) -> Callable[..., GuardedHttpToolsProtocol]:
    """The protocol class `gateway serve` gives uvicorn: the `[server]` limits and the listening
    socket, made non-blocking, bound (a partial pickles into each worker, the socket with it),
    so waiting connections are accepted several at a time (`accept.py`): all of them with one
    worker, SHARED_PER_TURN at a time when several workers share the socket."""
    listener.setblocking(False)
    limit = MAX_PER_TURN if workers == 1 else SHARED_PER_TURN
    return functools.partial(
        GuardedHttpToolsProtocol, limits=limits, listener=listener, accept_limit=limit
    )
