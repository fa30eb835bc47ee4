"""A small HTTP proxy for the load tests (`overhead.py --proxy`): the provider's traffic goes
through it as it would through a corporate proxy.

    python loadtests/forward_proxy.py --port N

`CONNECT host:port` opens a tunnel; an absolute-form request (`POST http://host:port/... `)
opens a connection to that upstream and pipes the client's connection to it from then on, as it
is: every later request on that connection goes to the same upstream (one upstream per load
test), and the mock provider, like any HTTP/1.1 server, accepts absolute-form targets. Runs on
uvloop; it does nothing per request but copy bytes, so what it costs is the same for every
client measured through it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Proc, free_port, start_server


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
    elif target.startswith("/"):  # /healthz: the proxy's own readiness check
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        writer.close()
        return
    else:
        parts = urlsplit(target)
        host, port = parts.hostname or "", str(parts.port or 80)
    try:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        writer.close()
        return
    if method == "CONNECT":
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    else:
        up_writer.write(head)
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def running_proxy(cpus: set[int] | None = None) -> Iterator[str]:
    """`start_forward_proxy` for a `with` block; yields the proxy's URL, stops it after."""
    proc = start_forward_proxy(cpus)
    try:
        yield proc.url
    finally:
        proc.stop()


def start_forward_proxy(cpus: set[int] | None = None) -> Proc:
    """The proxy in a process of its own, once it answers; `.url` is its `http://` URL."""
    port = free_port()
    return start_server([str(Path(__file__).resolve()), "--port", str(port)], port, cpus)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(_main(parser.parse_args().port))
