"""One pipelined RESP2 connection (`asyncio.Protocol`, no streams) of the hand-written client.

A call writes its encoded commands straight to the transport and gets a future; `data_received`
parses the replies and resolves the waiting calls strictly in the order they were written. Any
number of calls may be in flight at once (pipelining); there is no lock on the fast path.

Every call has a deadline (`timeout_s`). When a reply is late, or the connection is lost, the
connection is closed and every call still waiting on it fails with `StateUnavailable` (kind
"timeout" or "connection"), and `on_lost` hears of it, so the client can stop sending calls to
a server that does not answer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TypeAlias

from gateway.state.base import StateUnavailable
from gateway.state.redis.client import unavailable
from gateway.state.redis.wire import Parser, Reply, ReplyError

# A call's encoded commands, or a function that encodes them, called as they are written.
Payload: TypeAlias = bytes | Callable[[], bytes]


# A call waiting on the connection, in write order: `count` replies resolve `future`, else
# (`future` None, one reply) `applied` gets whether it applied; `noscript`: the EVAL sent for
# `applied` instead, should the reply be NOSCRIPT; `waited_on`: see `Connection.send`. A plain
# tuple, built in one BUILD_TUPLE where the call is sent, not an object whose __init__ stores
# six attributes (~20 opcodes a call less; `data_received` unpacks it).
_Call: TypeAlias = tuple[
    "asyncio.Future[list[Reply]] | None",  # future
    int,  # count
    float,  # deadline
    bool,  # waited_on
    "asyncio.Future[None] | None",  # applied
    "Callable[[], bytes] | None",  # noscript
]
_NO_TIMER = float("inf")


class Connection(asyncio.Protocol):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout_s: float,
        on_lost: Callable[[StateUnavailable], None],
    ) -> None:
        self.loop = loop
        self.timeout_s = timeout_s
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.parser = Parser()
        self.calls: deque[_Call] = deque()
        self.closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = _NO_TIMER  # when `_timer` fires
        self._unwritten: list[bytes] = []  # calls sent `soon`, written at the end of the turn
        # The functions among them (their place in `_unwritten` holds b"" until they are called
        # at the write): the turn's bytes are then joined as they are, with no test of each
        # (~10 opcodes a call less than a comprehension calling the functions among them).
        self._encode_later: list[tuple[int, Callable[[], bytes]]] = []
        self._partial: list[Reply] = []  # the first replies of `calls[0]`, when not all came
        self._waited_on = 0  # calls in flight that a caller waits on (`send_waited_on`)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(
        self, payload: Payload, count: int, *, soon: bool = False
    ) -> asyncio.Future[list[Reply]]:
        """Write `count` encoded commands; the future gets their `count` replies. `soon`: write
        them at the end of this turn of the loop, together with every other call sent `soon`
        meanwhile (one socket write for the acquires of many requests, instead of one each: a
        write on loopback costs ~20-30 us of CPU); else now, behind those still waiting.

        A `payload` that is a function is called when the call is written, so its encoding
        waits for the write too: a settlement started just before an answer's last byte
        (`RedisState.start_settle`) is encoded after that byte has left."""
        future: asyncio.Future[list[Reply]] = self.loop.create_future()
        deadline = self.loop.time() + self.timeout_s
        self._send(payload, (future, count, deadline, False, None, None), soon)
        return future

    def send_waited_on(self, payload: bytes, count: int) -> asyncio.Future[list[Reply]]:
        """`send(payload, count, soon=True)` of a call a caller waits on (`RespClient.begin`:
        an acquire), unlike a settlement's; the future raises a reply meaning "this server
        cannot serve now" (`client.check_available`). While no other such call is in flight,
        it is written now, with whatever is unwritten: under load calls are in flight and the
        turn's calls share a write, but on a quiet connection (one request at a time) nothing
        would share it, and the end of the turn comes only after the callbacks queued before it
        have run: at c = 1 the previous request's record (~65 us, `RecordQueue.write_soon`),
        which then ran before the round trip started instead of while it was under way.

        Written out here, not through `send` and `_send` (~30 opcodes a call less)."""
        loop = self.loop
        future: asyncio.Future[list[Reply]] = loop.create_future()
        deadline = loop.time() + self.timeout_s
        if self._waited_on:  # others in flight: at the end of the turn, with the turn's calls
            self._waited_on += 1
            unwritten = self._unwritten
            if not unwritten:
                loop.call_soon(self._write_unwritten)
            unwritten.append(payload)
        else:  # the first call waited on: now, behind whatever is unwritten
            self._waited_on = 1
            if self._unwritten:
                self._unwritten.append(payload)
                self._write_unwritten()
            else:
                assert self.transport is not None
                self.transport.write(payload)
        self.calls.append((future, count, deadline, True, None, None))
        if deadline < self._timer_at:  # (the handshake's timeout is longer)
            self._arm(deadline)
        return future

    def send_applied(
        self, payload: Payload, noscript: Callable[[], bytes] | None = None
    ) -> asyncio.Future[None]:
        """One command sent `soon` whose reply only says whether it applied (a settlement's):
        the future ends with None, or with its error reply or the connection's failure. It is
        resolved as the reply is read, not through a future of the replies whose callback
        would run one turn of the loop later. On a NOSCRIPT reply, `noscript()` (the script's
        EVAL) is sent instead, at once, and its reply resolves the future."""
        applied: asyncio.Future[None] = self.loop.create_future()
        deadline = self.loop.time() + self.timeout_s
        self._send(payload, (None, 1, deadline, False, applied, noscript), soon=True)
        return applied

    def _send(self, payload: Payload, call: _Call, soon: bool) -> None:
        if soon:
            if not self._unwritten:
                self.loop.call_soon(self._write_unwritten)
            self._add_unwritten(payload)
        elif self._unwritten:  # in order: the replies resolve the calls in the order written
            self._add_unwritten(payload)
            self._write_unwritten()
        else:
            assert self.transport is not None
            self.transport.write(payload if isinstance(payload, bytes) else payload())
        self.calls.append(call)
        deadline = call[2]
        if deadline < self._timer_at:  # (the handshake's timeout is longer)
            self._arm(deadline)

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(deadline, self._check_deadline)
        self._timer_at = deadline

    def _add_unwritten(self, payload: Payload) -> None:
        if isinstance(payload, bytes):
            self._unwritten.append(payload)
        else:
            self._encode_later.append((len(self._unwritten), payload))
            self._unwritten.append(b"")

    def _write_unwritten(self) -> None:
        unwritten, self._unwritten = self._unwritten, []
        encode_later, self._encode_later = self._encode_later, []
        if unwritten and not self.closed:  # closed: `close` has failed their calls already
            assert self.transport is not None
            try:
                for at, encode in encode_later:
                    unwritten[at] = encode()
                data = b"".join(unwritten)
            except Exception as exc:  # noqa: BLE001 - a call that cannot be encoded is not sent
                # The calls after it would get its reply: fail them all (they are retried).
                self.lose(StateUnavailable(f"redis: cannot encode a call: {exc!r}", "error_reply"))
                return
            self.transport.write(data)

    def _check_deadline(self) -> None:
        # One timer per connection, not one per call: calls share one timeout and are answered in
        # order, so the oldest is the first to be overdue. When it fires early, it re-arms.
        self._timer = None
        self._timer_at = _NO_TIMER
        if not self.calls:
            return
        # Calls are answered in order and a deadline is never earlier than the one before
        # (after the handshake), so the oldest call is the first to be overdue.
        oldest = self.calls[0][2]
        if self.loop.time() >= oldest:
            self.lose(StateUnavailable(f"redis: no reply within {self.timeout_s:g} s", "timeout"))
        else:
            self._arm(oldest)

    def data_received(self, data: bytes) -> None:
        try:
            replies = self.parser.feed(data)
        except ValueError as exc:
            self.lose(StateUnavailable(f"redis: bad reply: {exc}"))
            return
        partial = self._partial
        if partial:  # the oldest call's first replies came in an earlier read
            replies = partial + replies
            self._partial = []
        # By call, not by reply: a call's `count` replies are taken in one slice when this read
        # has them all (nearly always), instead of one append and one length test per reply
        # into a list of the call's own (~20 opcodes a reply; an acquire has 2 or more).
        calls = self.calls
        at, end, last = 0, 0, len(replies)
        # `send_waited_on`'s calls raise an unavailable server's error reply: tested here, for
        # the whole read in one C-level pass, not by the caller in a coroutine wrapped around
        # each future (~35 opcodes an acquire less).
        errors = ReplyError in map(type, replies)
        while at < last:
            if not calls:
                self.lose(StateUnavailable("redis: a reply nobody asked for"))
                return
            future, count, _, waited_on, applied, noscript = calls[0]
            end += count
            if end > last:  # the rest of its replies come in a later read
                self._partial = replies[at:]
                return
            calls.popleft()
            if waited_on:
                self._waited_on -= 1
            if future is None:  # `send_applied`'s call: one reply
                assert applied is not None
                self._resolve_applied(applied, noscript, replies[at])
            elif not future.done():  # the caller may have been cancelled
                got = replies[at:end]
                error = errors and waited_on and unavailable(got)
                if error:
                    future.set_exception(error)
                else:
                    future.set_result(got)
            at = end

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.lose(StateUnavailable(f"redis: connection lost ({exc or 'closed by the server'})"))

    def lose(self, error: StateUnavailable) -> None:
        """The server failed us: close, fail every waiting call, tell the client."""
        if not self.closed:
            self.close(error)
            self.on_lost(error)

    def close(self, error: StateUnavailable) -> None:
        """Close the connection and fail every call still waiting on it."""
        self.closed = True
        self._unwritten.clear()
        self._encode_later.clear()
        self._partial = []
        self._waited_on = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = _NO_TIMER
        if self.transport is not None:
            self.transport.abort()
        while self.calls:
            waiting, _, _, _, applied, _ = self.calls.popleft()
            future = waiting or applied
            if future is not None and not future.done():
                future.set_exception(error)

    def _resolve_applied(
        self, applied: asyncio.Future[None], noscript: Callable[[], bytes] | None, reply: Reply
    ) -> None:
        if applied.done():
            return
        if isinstance(reply, ReplyError):  # it ran nothing (NOSCRIPT, OOM, READONLY...)
            if noscript is not None and reply.code == "NOSCRIPT":
                deadline = self.loop.time() + self.timeout_s
                self._send(noscript, (None, 1, deadline, False, applied, None), soon=True)
                return
            applied.set_exception(reply)
            return
        applied.set_result(None)
