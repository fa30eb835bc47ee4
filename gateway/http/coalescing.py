"""uvicorn's httptools protocol, with a response's headers sent together with its first body.

uvicorn writes the status line and headers as soon as the app sends `http.response.start`,
then each body message on its own, and uvloop turns every write into a `send` syscall at once.
A JSON answer so costs two syscalls and two wake-ups of the client. `HeadersWithBody` holds the
header block back until the next write (the body, which the app sends right after) and sends
both as one; if no body follows in the same turn of the event loop, the headers leave at the end
of that turn (`loop.call_soon`), so a stream's headers never wait for its first token. Body
writes are never delayed.

A response that starts while its request's body is still coming (a 401 or 413 answered from the
head) says `connection: close`: the gateway does not read that body to find the next request
(`protocol.py` ends the connection after the answer), and a client told nothing would send its
next request on a connection about to close ("server disconnected without sending a response").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeadersWithBody:
    """A transport proxy: a header block waits for the next write; the rest passes through."""

    __slots__ = ("_body_unread", "_head", "_loop", "_transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
        body_unread: Callable[[], bool],
    ) -> None:
        self._transport = transport
        self._loop = loop
        self._body_unread = body_unread
        self._head = b""

    def write(self, data: bytes) -> None:
        if self._head:
            data = self._head + data
            self._head = b""
        elif data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n"):
            if self._body_unread():
                data = data[:-2] + b"connection: close\r\n\r\n"
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
        proxy = HeadersWithBody(transport, self.loop, self._body_unread)
        super().connection_made(proxy)  # type: ignore[arg-type]

    def _body_unread(self) -> bool:
        """Whether the response starting now answers a request whose body is still coming on
        a connection kept alive (with nothing pipelined, the last request parsed is the one
        answered; a head that already says `connection: close` is not kept alive)."""
        cycle = self.cycle
        return cycle is not None and cycle.more_body and cycle.keep_alive and not self.pipeline
