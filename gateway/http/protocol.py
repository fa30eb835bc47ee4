"""The HTTP protocol `gateway serve` gives uvicorn: uvicorn's httptools protocol with the
response's headers sent together with its first body (`gateway.http.coalescing`), responses
written by the gateway's `WritingCycle` (`gateway.http.response_writer`, `[server]
response_writer`), and the `[server]` limits.

`GuardedHttpToolsProtocol` adds the `[server]` HTTP limits uvicorn has no setting for under
httptools (its `h11_max_incomplete_event_size` is h11's; `limit_concurrency` answers plain
text): the size and number of request headers (431), a deadline for the request head and an
idle deadline inside the body (408), and `max_connections` (503). Sizes are checked while
reading, so an oversized head is refused after at most one socket read past the limit, never
buffered whole, pipelined heads included. A refused connection gets its answer in the route's
JSON error shape, after the answers to the requests pipelined before it (HTTP answers in
order), then the gateway stops writing and drops what the client still sends until it closes
(at most `LINGER_S`), so the client reads the answer instead of a reset (the deadlines and
refusals: `refusing.py`). A request that asks to switch protocols (`Upgrade: h2c`, as
`curl --http2` sends) is served as HTTP/1.1, body and all; CONNECT gets 400.

With `listener` (the listening socket, which `gateway serve` gives), a connection libuv hands
over first accepts the connections waiting behind it, up to `accept_limit` (`accept.py`), so a
burst of new clients is not read one per turn of a busy loop.

`GuardedHttpToolsProtocol` is what `gateway serve` (gateway/cli.py) gives uvicorn as its `http`
protocol class, bound to the `[server]` table read at start (`serving.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import urllib.parse
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.server import ServerState

from gateway.config.types import ServerConfig
from gateway.errors import InvalidRequest
from gateway.http.accept import MAX_PER_TURN, accept_waiting
from gateway.http.framing import (
    NO_TRAILERS,
    Refusal,
    TooManyConnections,
    head_without_upgrade,
    transfer_coding_error,
    unsupported_version,
)
from gateway.http.refusals import CapacityLog
from gateway.http.refusing import RefusingHttpToolsProtocol
from gateway.http.response_writer import WritingCycle, mirrors_installed_uvicorn

log = logging.getLogger("gateway.http")
_CAPACITY = CapacityLog(log)


class GuardedHttpToolsProtocol(RefusingHttpToolsProtocol):
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
        # Responses written by the gateway's `WritingCycle` (response_writer.py), or uvicorn's.
        self._writes_responses = (
            self.limits.response_writer == "auto" and mirrors_installed_uvicorn()
        )
        self._listener = listener
        self._accept_limit = accept_limit
        self._reading_head = True
        self._head_bytes = 0  # bytes received since this request's head began
        # A message ended in the read being parsed: a head begun behind it, in the same read,
        # has only its parsed part counted (`_head_undercounted`: its size is summed in full).
        self._message_ended = False
        self._head_undercounted = False
        # A request that asked to switch protocols, as it is parsed again without asking.
        self._without_upgrade: bytes | None = None
        # A refusal written once the answers to the requests before it have been.
        self._owed_refusal: bytes | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._head_started = 0.0
        self._last_body_at = 0.0
        self._over_capacity = False
        self._refused = False
        self._confirming = False
        # The last request parsed was handed to the app (or queued) and its body is being read.
        self._in_body = False
        self._codings_checked = False

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
        if not self._feed(data):
            return
        # Deadlines are armed only for a head or body that did not arrive whole: a request
        # that comes in one read makes no timer.
        if self._reading_head:
            if self._head_undercounted and not self._head_bytes:  # begun behind a message
                self._head_bytes = 1 + self._parsed_head_bytes()
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(self._too_large(), "headers_too_large")
            elif self._head_bytes and self._deadline is None:
                left = self._head_started + self.limits.header_timeout_s - self.loop.time()
                self._arm(max(left, 0.0), self._head_too_slow)
        elif self._deadline is None and self.cycle is not None and self.cycle.more_body:
            self._last_body_at = self.loop.time()
            self._arm(self.limits.body_timeout_s, self._body_too_slow)

    def _feed(self, data: bytes) -> bool:
        """Parse `data`; False when the connection was refused. A request asking to switch
        protocols (`Upgrade: h2c`, a WebSocket) is parsed again without asking: the gateway
        speaks HTTP/1.1 only, HTTP lets a server ignore Upgrade, and httptools would skip its
        body and every request after it."""
        while True:
            self._message_ended = False
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade as upgrade:
                if self._without_upgrade is None:  # (not asked by a head: refuse, not loop)
                    error = InvalidRequest(
                        "unexpected protocol switch", code="invalid_http_request"
                    )
                    self._refuse(error, "invalid_http")
                    return False
                offset = int(upgrade.args[0])
                data, self._without_upgrade = self._without_upgrade + data[offset:], None
                self.parser = self._new_parser()
                continue
            except httptools.HttpParserError as exc:
                refusal = exc.__context__
                if not isinstance(refusal, Refusal):
                    message = f"invalid HTTP request: {exc}"
                    error = InvalidRequest(message, code="invalid_http_request")
                    refusal = Refusal(error, "invalid_http")
                if self._in_body:
                    self._refuse_body(refusal.error)
                else:
                    self._refuse(refusal.error, refusal.reason)
                return False
            return True

    def _new_parser(self) -> httptools.HttpRequestParser:
        """A parser as uvicorn makes one (it answers a request pipelined behind a close)."""
        parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # httptools < 0.6.3
            parser.set_dangerous_leniencies(lenient_data_after_close=True)
        return parser

    def _parsed_head_bytes(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    # Parser callbacks: uvicorn's own, the head's limits checked once it is complete (each
    # read of an unfinished head is checked in `data_received`, so it never grows past one
    # read over the limit).

    def on_headers_complete(self) -> None:
        limits = self.limits
        # The bytes read since the head began bound its size: most heads need no sum.
        if len(self.headers) > limits.max_headers or (
            (self._head_bytes > limits.max_header_bytes or self._head_undercounted)
            and self._parsed_head_bytes() > limits.max_header_bytes
        ):
            raise Refusal(self._too_large(), "headers_too_large")
        self._reading_head = False
        self._head_bytes = 0
        self._head_undercounted = False
        self._cancel_deadline()
        if self._over_capacity:
            message = "the gateway is serving its maximum number of connections; retry shortly"
            raise Refusal(TooManyConnections(message), "max_connections")
        wrong_version = unsupported_version(self.parser.get_http_version())
        if wrong_version is not None:
            raise Refusal(wrong_version, "invalid_http")
        if self.parser.should_upgrade():
            if self.parser.get_method() == b"CONNECT":
                message = "CONNECT is not supported: the gateway is not a forward proxy"
                raise Refusal(InvalidRequest(message, code="invalid_http_request"), "invalid_http")
            # No cycle: `_feed` parses it again without asking.
            parser = self.parser
            version = parser.get_http_version()
            self._without_upgrade = head_without_upgrade(
                parser.get_method(), self.url, version, self.headers
            )
            return
        if self._writes_responses:
            self._start_cycle()
        else:
            super().on_headers_complete()
        self._in_body = True
        self.headers = NO_TRAILERS  # the scope keeps the head's; a new message gets a new list
        self._codings_checked = False

    def _start_cycle(self) -> None:
        """uvicorn's `on_headers_complete` (as of the versions in `response_writer.MIRRORED`;
        a request asking to upgrade never gets here) with the gateway's `WritingCycle`: the
        request's scope filled in, its cycle made, and started, or queued behind the answer
        in progress (a pipelined request). tests/unit/http/test_response_writer_protocol.py
        checks it against uvicorn's, scope by scope."""
        parser = self.parser
        http_version = parser.get_http_version()
        scope = self.scope
        scope["method"] = parser.get_method().decode("ascii")
        if http_version != "1.1":
            scope["http_version"] = http_version
        parsed_url = httptools.parse_url(self.url)
        raw_path = parsed_url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope["path"] = self.root_path + path
        scope["raw_path"] = self.root_path.encode("ascii") + raw_path
        scope["query_string"] = parsed_url.query or b""
        app = self.app
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            app = service_unavailable
            self.logger.warning("Exceeded concurrency limit.")
        existing_cycle = self.cycle
        self.cycle = WritingCycle(
            scope=scope,
            transport=self.transport,
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            expect_100_continue=self.expect_100_continue,
            keep_alive=http_version != "1.0" and parser.should_keep_alive(),
            on_response=self.on_response_complete,
        )
        if existing_cycle is None or existing_cycle.response_complete:
            self._start_asgi_task(self.cycle, app)
        else:  # pipelined: started when the answer before it is complete
            self.flow.pause_reading()
            self.pipeline.appendleft((self.cycle, app))

    def on_chunk_header(self) -> None:
        # A chunked body's codings are read once, at its first chunk: a request with a body
        # of Content-Length pays nothing.
        if not self._codings_checked:
            self._codings_checked = True
            error = transfer_coding_error(self.scope["headers"])
            if error is not None:
                raise Refusal(error, "invalid_http")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._message_ended:  # behind another message, in the same read
            self._head_started = self.loop.time()
            self._head_undercounted = True

    def on_message_complete(self) -> None:
        self._in_body = False
        if self._without_upgrade is None:
            super().on_message_complete()
        self._reading_head = True
        self._message_ended = True
        self._cancel_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._owed_refusal is not None and not self._answers_owed():
            answer, self._owed_refusal = self._owed_refusal, None
            self._unset_keepalive_if_required()  # the keep-alive timer uvicorn just armed
            self._send_refusal(answer)
        elif self.cycle.more_body and self.cycle.response_complete and not self._refused:
            # Answered before its body came (413 by Content-Length, with or without `Expect:
            # 100-continue`): the body is not read to find the next request; the connection
            # ends as a refused one does.
            self._refused = True
            self._unset_keepalive_if_required()
            self._cancel_deadline()
            self._send_refusal(b"")
