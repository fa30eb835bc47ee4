"""uvicorn's httptools protocol, with a response's headers sent together with its first body.

uvicorn writes the status line and headers as soon as the app sends `http.response.start`,
then each body message on its own, and uvloop turns every write into a `send` syscall at once.
A JSON answer so costs two syscalls and two wake-ups of the client. `HeadersWithBody` holds the
header block back until the next write (the body, which the app sends right after) and sends
both as one; if no body follows in the same turn of the event loop, the headers leave at the end
of that turn (`loop.call_soon`), so a stream's headers never wait for its first token. Body
writes are never delayed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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
