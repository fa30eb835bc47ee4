"""A lean asyncio Redis client: RESP2 over one pipelined connection per process.

Why not redis-py: its asyncio client spends 80-190 us of CPU per command in its own path
(connection pool, locks, per-command timeouts), several times the cost of the round trip
itself, and the gateway makes one or two calls per request (docs/limits-and-cache.md).

How it works:

- One connection (`asyncio.Protocol`, no streams). A call encodes its commands, writes them
  straight to the transport and waits on a future; `data_received` parses the replies and
  resolves the waiting calls strictly in the order they were written. Any number of calls may
  be in flight at once (pipelining); there is no pool and no lock on the fast path.
- `pipeline(commands)` writes several commands in one write and returns all their replies:
  one round trip. `begin(commands)` is the same begun without an await: on an open connection
  the write leaves before it returns, and the caller awaits the replies when it needs them.
- Every call has a deadline (`socket_timeout_s`). When a reply is late, or the connection is
  lost, the connection is closed and every call still waiting on it fails with
  `StateUnavailable`; the next call reconnects (bounded by `connect_timeout_s`), so a dead Redis
  never holds a call longer than its timeout and the client recovers by itself.
- Replies as `wire` parses them; error replies are `ReplyError` values (raised by `execute`,
  returned inside `pipeline` results).
  Errors that mean "this server cannot serve now" (READONLY, LOADING, MASTERDOWN) raise
  `StateUnavailable` like a lost connection.

URLs: `redis://[[user]:password@]host[:port][/db]`, `rediss://` (TLS) and
`unix://[[user]:password@]/path/to/socket[?db=N]`; AUTH and SELECT are sent on connect.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from gateway.state.base import StateUnavailable
from gateway.state.redis.wire import (
    UNAVAILABLE_PREFIXES,
    Arg,
    Parser,
    Reply,
    ReplyError,
    encode,
)

# -- the connection ----------------------------------------------------------------------------


class _Call:
    """Calls waiting on the connection, in write order: `count` replies resolve `future`."""

    __slots__ = ("count", "deadline", "future", "replies")

    def __init__(self, future: asyncio.Future[list[Reply]], count: int, deadline: float) -> None:
        self.future = future
        self.count = count
        self.deadline = deadline
        self.replies: list[Reply] = []


class _Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self.loop = loop
        self.timeout_s = timeout_s
        self.transport: asyncio.Transport | None = None
        self.parser = Parser()
        self.calls: deque[_Call] = deque()
        self.closed = False
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, payload: bytes, count: int) -> asyncio.Future[list[Reply]]:
        """Write `count` encoded commands; the future gets their `count` replies."""
        future: asyncio.Future[list[Reply]] = self.loop.create_future()
        deadline = self.loop.time() + self.timeout_s
        assert self.transport is not None
        self.transport.write(payload)
        self.calls.append(_Call(future, count, deadline))
        if self._timer is None:
            self._timer = self.loop.call_at(deadline, self._check_deadline)
        return future

    def _check_deadline(self) -> None:
        # One timer per connection, not one per call: calls share one timeout and are answered in
        # order, so the oldest is the first to be overdue. When it fires early, it re-arms.
        self._timer = None
        if not self.calls:
            return
        oldest = self.calls[0].deadline
        if self.loop.time() >= oldest:
            self.close(StateUnavailable(f"redis: no reply within {self.timeout_s:g} s"))
        else:
            self._timer = self.loop.call_at(oldest, self._check_deadline)

    def data_received(self, data: bytes) -> None:
        try:
            replies = self.parser.feed(data)
        except ValueError as exc:
            self.close(StateUnavailable(f"redis: bad reply: {exc}"))
            return
        calls = self.calls
        for reply in replies:
            if not calls:
                self.close(StateUnavailable("redis: a reply nobody asked for"))
                return
            call = calls[0]
            call.replies.append(reply)
            if len(call.replies) == call.count:
                calls.popleft()
                if not call.future.done():  # the caller may have been cancelled
                    call.future.set_result(call.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(StateUnavailable(f"redis: connection lost ({exc or 'closed by the server'})"))

    def close(self, error: StateUnavailable) -> None:
        """Close the connection and fail every call still waiting on it."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.abort()
        while self.calls:
            future = self.calls.popleft().future
            if not future.done():
                future.set_exception(error)


# -- the client --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """Where and how to connect, from a redis:// / rediss:// / unix:// URL."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # a Unix socket
    tls: bool = False
    username: str | None = None
    password: str | None = None
    db: int = 0

    @classmethod
    def from_url(cls, url: str) -> Address:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"redis URL must start with redis://, rediss:// or unix://: {url!r}")
        query = parse_qs(parts.query)
        db_text = query.get("db", [""])[0] or (
            parts.path.lstrip("/") if parts.scheme != "unix" else ""
        )
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            path=parts.path if parts.scheme == "unix" else None,
            tls=parts.scheme == "rediss",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            db=int(db_text or 0),
        )


class Script:
    """A Lua script run by EVALSHA (EVAL when the server does not know it yet)."""

    def __init__(self, text: str) -> None:
        source = text.encode()
        self.text = text
        self.sha = hashlib.sha1(source).hexdigest()
        self.evalsha_head = b"$7\r\nEVALSHA\r\n$40\r\n" + self.sha.encode() + b"\r\n"
        self.eval_head = b"$4\r\nEVAL\r\n$%d\r\n%b\r\n" % (len(source), source)

    def call(self, keys: Sequence[Arg], args: Sequence[Arg]) -> ScriptCall:
        """A call of this script with these KEYS and ARGV."""
        encoded = encode([len(keys), *keys, *args])
        # `encode` starts with the array header "*<n>\r\n": drop it, the call writes its own.
        return ScriptCall(self, encoded[encoded.index(b"\n") + 1 :], 1 + len(keys) + len(args))


class ScriptCall(NamedTuple):
    """One script call, encoded once: `args` is numkeys, KEYS and ARGV as `nargs` RESP bulk
    strings. Hot paths build `args` from cached pieces (`bulk`) instead of through `encode`."""

    script: Script
    args: bytes
    nargs: int

    def evalsha(self) -> bytes:
        return b"*%d\r\n%b%b" % (self.nargs + 2, self.script.evalsha_head, self.args)

    def eval(self) -> bytes:
        return b"*%d\r\n%b%b" % (self.nargs + 2, self.script.eval_head, self.args)


async def _available(sent: Awaitable[list[Reply]]) -> list[Reply]:
    """The replies; an error reply meaning "this server cannot serve now" raises
    StateUnavailable, like a lost connection."""
    replies = await sent
    for reply in replies:
        if isinstance(reply, ReplyError) and str(reply).startswith(UNAVAILABLE_PREFIXES):
            raise StateUnavailable(f"redis: {reply}")
    return replies


class RespClient:
    def __init__(
        self,
        url: str,
        *,
        socket_timeout_s: float = 0.25,
        connect_timeout_s: float | None = None,
    ) -> None:
        """`socket_timeout_s` bounds the wait for every reply, `connect_timeout_s` (default: the
        same) connecting and the AUTH/SELECT handshake. Nothing connects before the first call."""
        self.address = Address.from_url(url)
        self.socket_timeout_s = socket_timeout_s
        self.connect_timeout_s = connect_timeout_s or socket_timeout_s
        self._conn: _Connection | None = None
        self._connecting = asyncio.Lock()

    async def execute(self, *command: Arg) -> Reply:
        """Send one command and return its reply; raises ReplyError for an error reply."""
        (reply,) = await self.pipeline((command,))
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    async def pipeline(self, commands: Sequence[Sequence[Arg] | bytes]) -> list[Reply]:
        """Send every command in one write and return their replies in order (one round trip);
        error replies are returned as ReplyError values, not raised. A command given as `bytes`
        is already encoded (`ScriptCall.evalsha()`, cached reads)."""
        return await self.begin(commands)

    def begin(self, commands: Sequence[Sequence[Arg] | bytes]) -> Awaitable[list[Reply]]:
        """`pipeline` begun without an await: on an open connection the commands are written
        before this returns; without one, the awaitable connects first, then writes. Await it
        (once) for the replies; it raises StateUnavailable as `pipeline` does."""
        payload = b"".join(
            [command if isinstance(command, bytes) else encode(command) for command in commands]
        )
        conn = self._conn
        if conn is None or conn.closed:
            return self._connect_and_send(payload, len(commands))
        return _available(conn.send(payload, len(commands)))

    async def _connect_and_send(self, payload: bytes, count: int) -> list[Reply]:
        conn = await self._connect()
        return await _available(conn.send(payload, count))

    def send_now(self, commands: Sequence[bytes]) -> asyncio.Future[list[Reply]]:
        """Write encoded commands at once, without an await; the future gets their replies (or
        StateUnavailable). Raises StateUnavailable when there is no connection to write to (a
        call that awaits, like `pipeline`, connects first)."""
        conn = self._conn
        if conn is None or conn.closed:
            raise StateUnavailable("redis: not connected")
        return conn.send(b"".join(commands), len(commands))

    async def script_reply(self, call: ScriptCall, reply: Reply) -> Reply:
        """The script's result, given the reply to its EVALSHA: on NOSCRIPT (a restarted or
        flushed server) it is run again with EVAL, which also caches it on the server."""
        if isinstance(reply, ReplyError):
            if not str(reply).startswith("NOSCRIPT"):
                raise reply
            (reply,) = await self.pipeline([call.eval()])
            if isinstance(reply, ReplyError):
                raise reply
        return reply

    async def run(self, call: ScriptCall) -> Reply:
        """Run a script call (EVALSHA, EVAL on NOSCRIPT); raises ReplyError for an error reply."""
        (reply,) = await self.pipeline([call.evalsha()])
        return await self.script_reply(call, reply)

    async def evalsha(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Reply:
        return await self.run(script.call(keys, args))

    async def _connect(self) -> _Connection:
        async with self._connecting:  # concurrent callers share one new connection
            if self._conn is not None and not self._conn.closed:
                return self._conn
            try:
                self._conn = await asyncio.wait_for(self._open(), self.connect_timeout_s)
            except (OSError, TimeoutError, StateUnavailable) as exc:
                raise StateUnavailable(f"redis: cannot connect: {exc or 'timed out'}") from exc
            return self._conn

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        address = self.address
        conn: _Connection
        if address.path is not None:
            transport, conn = await loop.create_unix_connection(
                lambda: _Connection(loop, self.socket_timeout_s), address.path
            )
        else:
            transport, conn = await loop.create_connection(
                lambda: _Connection(loop, self.socket_timeout_s),
                address.host,
                address.port,
                ssl=ssl.create_default_context() if address.tls else None,
            )
        # uvloop may call connection_made only after create_connection has returned.
        conn.transport = transport
        handshake: list[list[Arg]] = []
        if address.password is not None:
            handshake.append(
                ["AUTH", *([address.username] if address.username else []), address.password]
            )
        if address.db:
            handshake.append(["SELECT", address.db])
        if not handshake:
            return conn
        try:
            replies = await conn.send(b"".join(encode(c) for c in handshake), len(handshake))
            errors = [reply for reply in replies if isinstance(reply, ReplyError)]
            if errors:
                raise StateUnavailable(f"{errors[0]}")
        except BaseException:  # refused, or the connect timeout cancelled us: do not leak it
            conn.close(StateUnavailable("redis: handshake failed"))
            raise
        return conn

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn.close(StateUnavailable("redis: client closed"))
            self._conn = None
