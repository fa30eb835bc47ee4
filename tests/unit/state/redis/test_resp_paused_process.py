"""The RESP client in a process that was paused (a long GC pass, CPU throttled by a container's
quota, a SIGSTOP) while Redis answered: the reply waits in the socket, and when the process runs
again the call's deadline has passed. The reply is read before the deadline's timer runs (uvloop
reads the sockets first after a stall, as asyncio's own loop does), so the call gets its reply
instead of failing as a timeout and closing the gate for every request. Pinned here, as the
order depends on the event loop's version (a loop that ran due timers first would fail it)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvloop

from gateway.state.redis.resp import RespClient

TIMEOUT_S = 0.1


@pytest.fixture
def pong_port() -> Iterator[int]:
    """A server (in a thread of its own, so it answers while the client's loop is paused) that
    answers +PONG to every command."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        with listener:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(b"+PONG\r\n" * data.count(b"PING"))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()


def test_a_reply_that_came_while_the_process_was_paused_is_read(pong_port: int) -> None:
    async def main() -> object:
        client = RespClient(f"redis://127.0.0.1:{pong_port}/0", socket_timeout_s=TIMEOUT_S)
        try:
            assert await client.execute("PING") == b"PONG"  # connected
            sent = client.begin((("PING",),))  # written now (the first call waited on)
            time.sleep(3 * TIMEOUT_S)  # the process is paused; Redis answers meanwhile
            return await sent
        finally:
            await client.aclose()

    assert uvloop.run(main()) == [b"PONG"]
