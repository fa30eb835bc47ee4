"""A lean asyncio Redis client for one standalone server: RESP2 over one pipelined connection.

The fast path beside redis-py (`redispy.py`, the reference): redis-py's asyncio client spends
80-190 us of CPU per command in its own path (connection pool, locks, per-command timeouts),
several times the cost of the round trip itself, and the gateway makes one or two calls per
request (docs/limits-and-cache.md). It knows one server only: no Sentinel, no Cluster (MOVED is
an error reply, so "unavailable"), and no TLS options beyond the system's CAs; `[state] client
= "auto"` picks it only where that is all the config asks for (`options.py`).

How it works:

- One connection (`resp_connection.Connection`); every call is written to it at once and
  answered in order, so any number of calls are in flight together (pipelining).
  `begin(commands)` writes before it returns on an open connection.
- Connecting happens once for everyone: callers that arrive while a connection is being opened
  share that attempt (none queues behind another's timeout) and each waits at most one timeout
  for it; the attempt itself is bounded by `connect_timeout_s`. A connection counts as open
  only once the server has answered its handshake (AUTH, SELECT, else PING), so a stalled
  server is never mistaken for a live one.
- A late reply or a lost connection fails the calls waiting on it and closes the gate
  (`gate.Gate`): until a background reconnect gets an answer, calls are refused at once.

URLs: `redis://[[user]:password@]host[:port][/db]`, `rediss://` (TLS, the system's CAs) and
`unix://[[user]:password@]/path/to/socket[?db=N]`; any other URL option is refused (it would be
ignored otherwise: redis-py knows them).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from gateway.state.base import StateUnavailable
from gateway.state.redis.client import ClientBase, check_available, refuse
from gateway.state.redis.commands import Command, encoded
from gateway.state.redis.gate import Gate
from gateway.state.redis.resp_connection import Connection
from gateway.state.redis.wire import Arg, Reply, ReplyError, encode
from gateway.tls_once import ContextOnce


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
        """Raises ValueError for another scheme or a URL option this client does not know."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"redis URL must start with redis://, rediss:// or unix://: {url!r}")
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - {"db"})
        if unknown:
            raise ValueError(f"the resp client does not support URL options {', '.join(unknown)}")
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

    def handshake(self) -> list[list[Arg]]:
        """The commands a new connection starts with; the server must answer them all."""
        commands: list[list[Arg]] = []
        if self.password is not None:
            commands.append(["AUTH", *([self.username] if self.username else []), self.password])
        if self.db:
            commands.append(["SELECT", self.db])
        return commands or [["PING"]]


def _retrieve(task: asyncio.Task[Connection]) -> None:
    if not task.cancelled():
        task.exception()


class RespClient(ClientBase):
    name = "resp"

    def __init__(
        self,
        url: str,
        *,
        socket_timeout_s: float = 0.25,
        connect_timeout_s: float | None = None,
    ) -> None:
        """`socket_timeout_s` bounds the wait for every reply, `connect_timeout_s` (default: the
        same) connecting and the handshake. Nothing connects before the first call."""
        self.address = Address.from_url(url)
        self.socket_timeout_s = socket_timeout_s
        self.connect_timeout_s = connect_timeout_s or socket_timeout_s
        self.gate = Gate(self._probe)
        self._conn: Connection | None = None
        self._opening: asyncio.Task[Connection] | None = None
        # When the callers waiting for the attempt in flight give up: the first one's deadline.
        self._callers_deadline: float | None = None
        # A `rediss://` server's TLS context: built at the first connect, off the event loop,
        # and kept for every reconnect (it was made on the loop at each one: 10-30 ms of
        # every request's time, after each failover or restart of Redis).
        self._tls = ContextOnce(ssl.create_default_context) if self.address.tls else None

    def begin(self, commands: Sequence[Command]) -> Awaitable[list[Reply]]:
        """Send the commands and return an awaitable of their replies (error replies as values):
        on an open connection the commands are written at the end of this turn of the loop,
        with every other call begun in it or sent soon (`send_soon`), in order, or at once when
        no other begun call is in flight (`Connection.send_waited_on`); without one, the
        awaitable connects first (or raises at once while the gate is closed)."""
        try:  # every hot call comes encoded (bytes): joined as it is, ~35 opcodes less an acquire
            payload = b"".join(commands)  # type: ignore[arg-type]
        except TypeError:  # a command given as its arguments: encode them
            payload = b"".join([encoded(command) for command in commands])
        conn = self._conn
        if conn is None or conn.closed:
            refused = self.gate.refusal()
            if refused is not None:
                return refuse(refused)
            return self._connect_and_send(payload, len(commands))
        return conn.send_waited_on(payload, len(commands))  # raises what `check_available` does

    async def _connect_and_send(self, payload: bytes, count: int) -> list[Reply]:
        """Connect, then send: the reply gets what is left of the one timeout the call has."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.socket_timeout_s
        conn = await self._connect()
        try:
            replies = await asyncio.wait_for(conn.send(payload, count), deadline - loop.time())
        except TimeoutError:
            raise StateUnavailable(
                f"redis: no reply within {self.socket_timeout_s:g} s", "timeout"
            ) from None
        return check_available(replies)

    def send_soon(self, commands: Sequence[bytes]) -> asyncio.Future[list[Reply]]:
        """Send encoded commands without an await, at the end of this turn of the loop in one
        write with every other call made in it (settlements at c = 64: one write per turn instead
        of one per request, -25 us of gateway CPU and -25 us of redis-server CPU per request);
        the future gets their replies (or StateUnavailable). Raises StateUnavailable when there
        is no connection to write to (a call that awaits, like `pipeline`, connects first)."""
        conn = self._conn
        if conn is None or conn.closed:
            raise self.gate.refusal() or StateUnavailable("redis: not connected")
        return conn.send(b"".join(commands), len(commands), soon=True)

    def send_soon_applied(
        self,
        command: bytes | Callable[[], bytes],
        noscript: Callable[[], bytes] | None = None,
    ) -> asyncio.Future[None]:
        """`send_soon` of one command (encoded as the turn's calls are written, when a function)
        whose future says only whether it applied (`Connection.send_applied`); on a NOSCRIPT
        reply, `noscript()` is sent instead, for the same future."""
        conn = self._conn
        if conn is None or conn.closed:
            raise self.gate.refusal() or StateUnavailable("redis: not connected")
        return conn.send_applied(command, noscript)

    async def _connect(self) -> Connection:
        """The open connection: the attempt in flight (shared), else a new one. Its callers
        share one deadline, the first one's (one timeout): then they all fail together and the
        gate closes, so later callers are refused at once instead of joining the attempt, which
        goes on in the background up to `connect_timeout_s` (as the calls on a stalled
        connection fail with the oldest one's timeout, `Connection`)."""
        opening = self._attempt()
        loop = asyncio.get_running_loop()
        if self._callers_deadline is None:
            self._callers_deadline = loop.time() + self.socket_timeout_s
        try:
            return await asyncio.wait_for(
                asyncio.shield(opening), max(0.0, self._callers_deadline - loop.time())
            )
        except TimeoutError:
            error = StateUnavailable(
                f"redis: still connecting after {self.socket_timeout_s:g} s", "timeout"
            )
            self.gate.failed(error)
            raise error from None

    async def _probe(self) -> None:
        """The gate's probe: a new connection whose handshake the server answered."""
        await asyncio.shield(self._attempt())

    def _attempt(self) -> asyncio.Task[Connection]:
        """The connection attempt in flight, or a new one."""
        opening = self._opening
        if opening is None or opening.done():
            opening = self._opening = asyncio.get_running_loop().create_task(self._open())
            self._callers_deadline = None
            # Its failure reaches whoever waits for it (and the gate): none may be left.
            opening.add_done_callback(_retrieve)
        return opening

    async def _open(self) -> Connection:
        try:
            conn = await asyncio.wait_for(self._handshake(), self.connect_timeout_s)
        except (OSError, TimeoutError, StateUnavailable) as exc:
            kind = "timeout" if isinstance(exc, TimeoutError) else "connection"
            error = StateUnavailable(f"redis: cannot connect: {exc or 'timed out'}", kind)
            if isinstance(exc, ReplyError):  # NOAUTH, WRONGPASS...: the server answered
                error = exc
            self.gate.failed(error)
            raise error from exc
        self._conn = conn
        return conn

    async def _handshake(self) -> Connection:
        loop = asyncio.get_running_loop()
        address = self.address

        def connection() -> Connection:
            return Connection(loop, self.connect_timeout_s, self.gate.failed)

        if address.path is not None:
            transport, conn = await loop.create_unix_connection(connection, address.path)
        else:
            context = await self._tls.get() if self._tls is not None else None
            transport, conn = await loop.create_connection(
                connection, address.host, address.port, ssl=context
            )
        # uvloop may call connection_made only after create_connection has returned.
        conn.transport = transport
        commands = address.handshake()
        try:
            replies = await conn.send(b"".join(encode(c) for c in commands), len(commands))
            for reply in replies:
                if isinstance(reply, ReplyError):
                    raise reply
        except BaseException:  # refused, or the connect timeout cancelled us: do not leak it
            conn.close(StateUnavailable("redis: handshake failed"))
            raise
        conn.timeout_s = self.socket_timeout_s  # the handshake had the connect timeout
        return conn

    async def aclose(self) -> None:
        await self.gate.aclose()
        if self._opening is not None and not self._opening.done():
            self._opening.cancel()
            try:
                await self._opening
            except (asyncio.CancelledError, StateUnavailable):
                pass
        if self._conn is not None:
            self._conn.close(StateUnavailable("redis: client closed"))
            self._conn = None
