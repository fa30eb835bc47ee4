"""The lean RESP2 client (gateway/state/redis/resp.py) against servers that do not answer: every
pending call times out, a stalled server behind a password costs each caller one timeout, and
callers of one connection attempt share its deadline.

Runs against plain listening sockets that accept and never answer (a stalled server looks the
same to the client); the real redis-server is in test_resp.py.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Iterator

import pytest

from gateway.state import StateUnavailable
from gateway.state.redis.resp import RespClient

# -- a server that never answers -----------------------------------------------------------------


class LoopTurns:
    """Counts the event loop's turns, to tell calls that ended together (in one turn) from calls
    that ended one after another, without reading a clock."""

    def __init__(self) -> None:
        self.count = 0
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()

    async def ended(self, call: Awaitable[object]) -> tuple[str, int]:
        """(the kind of the StateUnavailable `call` raised, the turn it ended in)."""
        try:
            await call
        except StateUnavailable as error:
            return error.kind, self.count
        raise AssertionError("the call did not fail")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listening socket that accepts (the kernel's backlog does) but never replies."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


async def test_a_silent_server_times_out_every_pending_call(silent_port: int) -> None:
    client = RespClient(f"redis://127.0.0.1:{silent_port}/0", socket_timeout_s=0.2)
    try:
        turns = LoopTurns()
        ends = await asyncio.gather(*(turns.ended(client.execute("PING")) for _ in range(5)))
        turns.stop()
        # One timeout for all five, pending together: they end within a turn or two of the loop
        # (waiting in turn, each would have waited its 0.2 s: a hundred thousand turns apart).
        assert [kind for kind, _ in ends] == ["timeout"] * 5
        turns_apart = max(turn for _, turn in ends) - min(turn for _, turn in ends)
        assert turns_apart <= 2, ends
        # The next call is refused at once while the reconnect runs in the background: no
        # second timeout.
        with pytest.raises(StateUnavailable) as refused:
            await client.execute("PING")
        assert refused.value.kind == "down"
    finally:
        await client.aclose()


async def test_a_stalled_server_behind_a_password_costs_each_caller_one_timeout(
    silent_port: int,
) -> None:
    """Regression: callers queued on one connection lock, each waiting out its own AUTH
    (40 callers: p50 5.5 s). Now they share the one connection attempt, and once it has failed
    the next callers are refused at once while a reconnect runs in the background."""
    client = RespClient(f"redis://:pw@127.0.0.1:{silent_port}/0", socket_timeout_s=0.2)
    try:
        turns = LoopTurns()
        ends = await asyncio.gather(*(turns.ended(client.execute("GET", "k")) for _ in range(40)))
        turns.stop()
        # One timeout for all, not 40 in a row: they end within a turn or two of the loop.
        assert [kind for kind, _ in ends] == ["timeout"] * 40
        turns_apart = max(turn for _, turn in ends) - min(turn for _, turn in ends)
        assert turns_apart <= 2, ends
        with pytest.raises(StateUnavailable, match="reconnecting") as refused:
            await client.execute("GET", "k")
        assert refused.value.kind == "down"  # refused at once, no timeout of its own
    finally:
        await client.aclose()


async def test_callers_of_one_connection_attempt_share_the_first_ones_deadline(
    silent_port: int,
) -> None:
    """A connection attempt (its AUTH unanswered) runs up to the connect timeout, longer than a
    call's: callers that join it later used to wait out a timeout each from their own start,
    and until the attempt itself failed every new caller joined it and waited too. Now they
    fail together at the first caller's deadline, as the calls on a stalled connection do, and
    the gate closes then: the next caller is refused at once."""
    client = RespClient(
        f"redis://:pw@127.0.0.1:{silent_port}/0", socket_timeout_s=0.2, connect_timeout_s=2.0
    )
    loop = asyncio.get_running_loop()
    ended: dict[str, tuple[float, int]] = {}  # caller -> (the loop's time, the loop's turn)
    turns = LoopTurns()

    async def call(name: str) -> None:
        with pytest.raises(StateUnavailable):
            await client.execute("GET", "k")
        ended[name] = (loop.time(), turns.count)

    try:
        started = loop.time()
        first = asyncio.create_task(call("first"))
        await asyncio.sleep(0.05)
        await asyncio.gather(first, call("later"))
        # The later caller ends with the first, in the same turn of the loop or the next (at
        # its own deadline it would end 0.05 s later: thousands of turns apart) ...
        assert ended["later"][1] - ended["first"][1] <= 2, ended
        # ... at the first caller's call timeout, not the 2 s connect timeout.
        assert ended["first"][0] - started < 1.0, ended
        before = turns.count
        with pytest.raises(StateUnavailable, match="reconnecting"):
            await client.execute("GET", "k")
        # Refused at once: not joining the attempt still running (no turn of the loop passed).
        assert turns.count == before
    finally:
        turns.stop()
        await client.aclose()


async def test_a_call_that_waited_for_the_connection_has_only_the_rest_of_its_timeout() -> None:
    """A server that answers the handshake late, then nothing: the call that had to connect
    first fails one timeout after it began (it used to get a whole timeout more for its reply
    once connected: 0.35 + 0.4 s here; the bound is halfway between)."""
    loop = asyncio.get_running_loop()

    class LateHandshake(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            self.answered = False

        def data_received(self, data: bytes) -> None:
            if not self.answered:  # the PING of the handshake, once
                self.answered = True
                loop.call_later(0.35, self.transport.write, b"+PONG\r\n")

    server = await loop.create_server(LateHandshake, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = RespClient(f"redis://127.0.0.1:{port}/0", socket_timeout_s=0.4, connect_timeout_s=2.0)
    try:
        started = loop.time()
        with pytest.raises(StateUnavailable):
            await client.execute("GET", "k")
        assert loop.time() - started < 0.4 + 0.35 / 2
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
