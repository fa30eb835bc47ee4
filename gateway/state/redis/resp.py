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
- Replies: integers -> int, simple and bulk strings -> bytes, nil -> None, arrays -> list, error
  replies -> `ReplyError` values (raised by `execute`, returned inside `pipeline` results).
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
from typing import NamedTuple, TypeAlias
from urllib.parse import parse_qs, unquote, urlsplit

from gateway.state.base import StateUnavailable


class ReplyError(Exception):
    """An error reply from Redis (`-ERR ...`, `-NOSCRIPT ...`)."""


Arg: TypeAlias = str | bytes | int
Reply: TypeAlias = "int | bytes | None | list[Reply] | ReplyError"
UNAVAILABLE_PREFIXES = ("READONLY", "LOADING", "MASTERDOWN")


# -- encoding and parsing ----------------------------------------------------------------------


def encode(command: Sequence[Arg]) -> bytes:
    """One command as a RESP array of bulk strings."""
    text = [f"*{len(command)}\r\n"]
    for arg in command:  # ASCII text and integers (nearly every call): one str, encoded once
        if type(arg) is str and arg.isascii():
            text.append(f"${len(arg)}\r\n{arg}\r\n")
        elif type(arg) is int:
            digits = str(arg)
            text.append(f"${len(digits)}\r\n{digits}\r\n")
        else:
            break
    else:
        return "".join(text).encode()
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        parts.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
    return b"".join(parts)


def bulk(text: str) -> str:
    """One ASCII argument as a RESP bulk string, for commands assembled from cached pieces
    (`ScriptCall`)."""
    return f"${len(text)}\r\n{text}\r\n"


class _Incomplete(Exception):
    """The buffer ends inside a reply: wait until it holds at least `need` bytes."""

    def __init__(self, need: int) -> None:
        self.need = need


class Parser:
    """Incremental RESP2 reply parser: `feed` it bytes, it returns the replies now complete."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._need = 0  # no reply can complete before the buffer holds this many bytes

    def feed(self, data: bytes) -> list[Reply]:
        """Add bytes; return every reply now complete, in order."""
        buf = self._buf
        if not buf and len(data) >= self._need:
            chunk = data  # the common case: whole replies in one read, no copy
        else:
            buf += data
            if len(buf) < self._need:
                return []
            chunk = bytes(buf)
        replies: list[Reply] = []
        pos, size = 0, len(chunk)
        try:
            while pos < size:
                reply, pos = _parse(chunk, pos)
                replies.append(reply)
            self._need = 0
        except _Incomplete as incomplete:
            self._need = incomplete.need - pos
        if chunk is data:
            buf += data[pos:]
        else:
            del buf[:pos]
        return replies


def _parse(data: bytes, pos: int) -> tuple[Reply, int]:
    """One reply starting at `pos`, and where the next one starts."""
    end = data.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete(len(data) + 1)
    kind = data[pos]
    if kind == 36:  # $ bulk string
        size = int(data[pos + 1 : end])
        if size < 0:
            return None, end + 2
        stop = end + 2 + size
        if len(data) < stop + 2:
            raise _Incomplete(stop + 2)
        return data[end + 2 : stop], stop + 2
    if kind == 58:  # : integer
        return int(data[pos + 1 : end]), end + 2
    if kind == 42:  # * array
        count = int(data[pos + 1 : end])
        if count < 0:
            return None, end + 2
        pos = end + 2
        items: list[Reply] = []
        for _ in range(count):
            item, pos = _parse(data, pos)
            items.append(item)
        return items, pos
    if kind == 43:  # + simple string
        return data[pos + 1 : end], end + 2
    if kind == 45:  # - error
        return ReplyError(data[pos + 1 : end].decode(errors="replace")), end + 2
    raise ValueError(f"unexpected RESP type byte {chr(kind)!r}")


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
