"""One HTTP/1.1 keep-alive connection as an asyncio protocol, parsing answers with `httptools`.

It keeps the state of the response being read on it (status, headers, buffered body, error)
and wakes the one reader waiting for more; `http1.Http1Response` reads it, `http1.Http1Upstream`
pools it.
"""

from __future__ import annotations

import asyncio

import httptools

# Stop reading from the socket while this much body is buffered and unread.
HIGH_WATER_BYTES = 1 << 20
Origin = tuple[str, str, int]  # scheme, host, port


class Http1Connection(asyncio.Protocol):
    """One keep-alive connection and the response currently being read on it."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.received_any = False
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.error: str | None = None
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = f"malformed HTTP response from upstream: {exc}"
            self.close()
        except httptools.HttpParserUpgrade:
            # `101 Switching Protocols`: the bytes after it are another protocol. Not an
            # HttpParserError, so it must be caught here or it escapes to the event loop.
            self.error = "upstream switched protocols (101); the gateway speaks HTTP/1.1 only"
            self.close()
        self._wake()

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost settles the response

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and not self.complete and self.error is None:
            if self._close_delimited():
                self.complete = True  # the body ran until the upstream closed: that is its end
            else:
                self.error = "upstream closed the connection mid-response"
        self._wake()

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if 100 <= self.status < 200:  # an interim answer (100 Continue): the real one follows
            self.headers = {}
            return
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER_BYTES and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.keep_alive = self._parser.should_keep_alive()  # only meaningful before the reset
            self.complete = True

    # -- used by the client and the response ------------------------------------------------

    def _close_delimited(self) -> bool:
        return "content-length" not in self.headers and "chunked" not in self.headers.get(
            "transfer-encoding", ""
        )

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take_body(self) -> bytes:
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = []
        self._buffered = 0
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()
        return data

    @property
    def has_body(self) -> bool:
        return bool(self._chunks)

    async def wait(self, deadline: float) -> bool:
        """Wait for more of the response until `deadline` (loop time); False on timeout."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_at(deadline, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        return waiter.result() is None

    def start(self, request_bytes: bytes) -> None:
        self._reset()
        assert self.transport is not None
        self.transport.write(request_bytes)

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and self.error is None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(False)  # type: ignore[arg-type]
