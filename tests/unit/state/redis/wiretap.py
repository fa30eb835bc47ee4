"""A TCP proxy in front of a Redis server that records every byte its clients write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bytearray | None
) -> None:
    try:
        while data := await reader.read(65536):
            if record is not None:
                record += data  # before it is forwarded: complete once its reply is back
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def wiretap(redis_url: str) -> AsyncIterator[tuple[bytearray, str]]:
    """What clients of the yielded redis:// URL write (a bytearray the test may clear), and the
    URL, which reaches `redis_url`'s server through the tap. Close the clients before leaving."""
    target = urlsplit(redis_url)
    written = bytearray()
    handlers: set[asyncio.Task[object]] = set()

    async def forward(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        server_r, server_w = await asyncio.open_connection(target.hostname, target.port)
        await asyncio.gather(_pump(client_r, server_w, written), _pump(server_r, client_w, None))

    server = await asyncio.start_server(forward, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield written, f"redis://127.0.0.1:{port}{target.path}"
    finally:
        server.close()
        await server.wait_closed()
        # The clients are closed: each pump sees the end of its stream and closes its writer.
        done, pending = await asyncio.wait(handlers, timeout=2.0) if handlers else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*done, *pending, return_exceptions=True)
