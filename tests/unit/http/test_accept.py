"""A burst of connections accepted in one turn of the loop (gateway/http/accept.py), with real
sockets on loopback and uvloop, as `gateway serve` runs."""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvloop
from uvicorn.config import Config
from uvicorn.server import ServerState

from gateway.config.types import ServerConfig
from gateway.http.accept import MAX_PER_TURN, SHARED_PER_TURN, accept_waiting
from gateway.http.protocol import GuardedHttpToolsProtocol
from gateway.http.serving import serving_protocol

BURST = 12


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    yield sock
    sock.close()


def _connect(listener: socket.socket, count: int) -> list[socket.socket]:
    """`count` clients whose connections wait in the listening backlog (the kernel completes
    the handshake before anyone accepts)."""
    clients = [socket.create_connection(listener.getsockname()) for _ in range(count)]
    for client in clients:
        client.setblocking(False)
    return clients


class Recorded(asyncio.Protocol):
    made: list[Recorded]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.made.append(self)


class TurnCounter:
    """Calls `watch` with the number of each turn of the loop it runs in: a callback that
    schedules itself again."""

    def __init__(self, loop: asyncio.AbstractEventLoop, watch: Callable[[int], None]) -> None:
        self.loop = loop
        self.turn = 0
        self.watch = watch
        loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.turn += 1
        self.watch(self.turn)
        self.loop.call_soon(self._tick)


def test_every_waiting_connection_is_accepted_in_one_call(listener: socket.socket) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        made: list[Recorded] = []
        Recorded.made = made
        clients = _connect(listener, 5)
        assert accept_waiting(listener, loop, Recorded) == 5
        assert accept_waiting(listener, loop, Recorded) == 0  # none left: it stops at once
        while len(made) < 5:  # each is handed to the loop in a task of its own
            await asyncio.sleep(0)
        for client in clients:
            client.close()

    asyncio.run(main())


def test_it_stops_at_its_limit_and_leaves_the_rest_waiting(listener: socket.socket) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        Recorded.made = []
        clients = _connect(listener, 3)
        assert accept_waiting(listener, loop, Recorded, limit=2) == 2
        assert accept_waiting(listener, loop, Recorded) == 1
        while len(Recorded.made) < 3:
            await asyncio.sleep(0)
        for client in clients:
            client.close()

    asyncio.run(main())


def test_an_error_accepting_ends_the_call_with_a_warning(
    listener: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        listener.close()  # accept() now fails (EBADF), as it would out of file descriptors
        assert accept_waiting(listener, asyncio.get_running_loop(), Recorded) == 0

    with caplog.at_level("WARNING", logger="gateway.http"):
        asyncio.run(main())
    assert "cannot accept a waiting connection" in caplog.text


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _guarded(
    listener: socket.socket, accept_limit: int = MAX_PER_TURN
) -> tuple[Callable[[], GuardedHttpToolsProtocol], ServerState]:
    """The gateway's protocol as `gateway serve` binds it (with `listener`), on a test app;
    and the server state that counts its connections."""
    config = Config(app=_app, ws="none", access_log=False)
    config.load()
    state = ServerState()
    factory = functools.partial(
        GuardedHttpToolsProtocol,
        config,
        state,
        {},
        limits=ServerConfig(),
        listener=listener,
        accept_limit=accept_limit,
    )
    return factory, state


def _serve_burst(listener: socket.socket) -> tuple[list[int], list[bytes]]:
    """A burst of BURST clients, each with a request sent, waiting before the server starts;
    returns the turns of the loop at which the server held 1..BURST connections, and each
    client's answer."""
    factory, state = _guarded(listener)
    clients = _connect(listener, BURST)
    for client in clients:
        client.send(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")

    async def main() -> tuple[list[int], list[bytes]]:
        loop = asyncio.get_running_loop()
        seen: list[int] = []

        def watch(turn: int) -> None:
            while len(seen) < len(state.connections):
                seen.append(turn)

        TurnCounter(loop, watch)
        server = await loop.create_server(factory, sock=listener)
        answers = [await loop.sock_recv(client, 4096) for client in clients]
        server.close()
        for client in clients:
            client.close()
        return seen, answers

    return uvloop.run(main())


def test_a_burst_is_taken_in_one_turn_and_every_connection_is_served(
    listener: socket.socket,
) -> None:
    seen, answers = _serve_burst(listener)
    assert len(seen) == BURST
    # libuv hands over the first; that one's protocol accepts the rest at once, and the
    # loop makes their protocols on its next turn at the latest.
    assert seen[-1] - seen[0] <= 2, seen
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)


def test_gateway_serve_gives_one_worker_every_waiting_connection_and_several_a_few() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        one = serving_protocol(ServerConfig(), sock, workers=1)
        assert isinstance(one, functools.partial) and one.keywords["listener"] is sock
        assert one.keywords["accept_limit"] == MAX_PER_TURN
        assert sock.getblocking() is False  # accept() must never wait
        several = serving_protocol(ServerConfig(), sock, workers=2)
        assert isinstance(several, functools.partial) and several.keywords["listener"] is sock
        assert several.keywords["accept_limit"] == SHARED_PER_TURN < MAX_PER_TURN


def test_a_worker_sharing_the_socket_takes_a_few_and_leaves_the_rest(
    listener: socket.socket,
) -> None:
    """Handed one connection, a protocol with `accept_limit` 2 takes two more; the rest wait
    for the next hand-over (another worker's, or this one's next turn)."""
    factory, state = _guarded(listener, accept_limit=2)
    clients = _connect(listener, 6)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        first, _ = listener.accept()  # what libuv would hand over
        first.setblocking(False)
        await loop.connect_accepted_socket(factory, first)
        while len(state.connections) < 3:
            await asyncio.sleep(0)
        left = accept_waiting(listener, loop, Recorded)
        while len(Recorded.made) < left:
            await asyncio.sleep(0)
        for connection in list(state.connections):
            connection.transport.close()
        for recorded in Recorded.made:
            recorded.transport.close()
        return left

    Recorded.made = []
    assert asyncio.run(main()) == 3  # 6 connected: 1 handed over, 2 taken with it, 3 left
    for client in clients:
        client.close()
