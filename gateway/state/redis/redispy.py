"""The reference Redis client: redis-py's `redis.asyncio` (with hiredis), for every deployment
shape: standalone (`redis://`, `rediss://` with the URL's TLS options, ACL `user:password`, db
index, `unix://`), Sentinel (`Sentinel.master_for`: a failover moves it to the new primary) and
Cluster (`RedisCluster`: follows MOVED and ASK, and runs each script on the node owning its
keys, which share one hash slot by their `{...}` tags, keys.py).

What it adds to redis-py, so that it keeps the promises of `client.RedisClient`:

- no retries inside redis-py: a call costs at most one timeout (`timeout_s`, covering taking
  or opening a connection and the reply), and a call that fails closes the gate (`gate.Gate`)
  so the next ones are refused at once until a background PING gets an answer; the calls still
  waiting then (on other pooled connections, to the same stalled server) fail with it, as they
  do on the RESP client's one connection, instead of each waiting out its own timeout;
- every failure, whatever redis-py raised, becomes `StateUnavailable` (error replies become
  `ReplyError` values inside a pipeline's replies, with their Redis code, like the RESP client;
  `redispy_errors.py`);
- replies are raw (bytes, ints, lists), as the backend parses them itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ResponseError

from gateway.state.base import StateUnavailable
from gateway.state.redis.client import ClientBase, check_available, refuse
from gateway.state.redis.commands import Command, decode
from gateway.state.redis.gate import Gate
from gateway.state.redis.keys import KeyNames
from gateway.state.redis.options import RedisOptions
from gateway.state.redis.redispy_errors import reply_error, reply_value, unavailable
from gateway.state.redis.wire import Reply, ReplyError

# Sentinel's constructor is untyped before redis-py 8.2 and typed per keyword since; the
# options below are built as one dict of the URL's settings, so it is called through this.
_SENTINEL: Callable[..., Sentinel] = Sentinel

Client = aioredis.Redis | RedisCluster
# Pipelines (one per turn of the loop that started calls) in flight at once, each holding one
# pooled connection: a cold burst opens this many, each with its TLS and AUTH handshakes; and the
# bound of each pool.
IN_FLIGHT_MAX = 16
POOL_MAX = 1024


class RedisPyClient(ClientBase):
    name = "redis-py"

    def __init__(self, options: RedisOptions) -> None:
        self.options = options
        self.timeout_s = options.timeout_s
        self._probe_key = KeyNames(options.key_prefix).probe  # under this gateway's prefix
        self.gate = Gate(self._probe)
        self._sentinel: Sentinel | None = None
        # A burst waits for one of IN_FLIGHT_MAX pipelines to end (within its timeout) instead
        # of opening a connection per call (redis-py's pools open one per call in flight).
        self._slots = asyncio.Semaphore(IN_FLIGHT_MAX)
        self._initializing = asyncio.Lock()
        self._ready = False
        # Calls waiting for their replies: failed at once when another call closes the gate.
        self._waiting: set[asyncio.Future[list[Reply]]] = set()
        self._turn: _Turn | None = None  # the calls started in this turn of the loop
        self._redis: Client = self._build(options)

    def _build(self, options: RedisOptions) -> Client:
        common: dict[str, Any] = {
            "socket_timeout": options.timeout_s,
            "socket_connect_timeout": options.connect_timeout_s,
            "retry": Retry(NoBackoff(), 0),
        }
        if options.cluster:
            return RedisCluster.from_url(options.url, max_connections=POOL_MAX, **common)
        if options.sentinels:
            kwargs = dict(parse_url(options.url))
            for where in ("host", "port", "path"):
                kwargs.pop(where, None)
            if kwargs.pop("connection_class", None) is SSLConnection:
                kwargs["ssl"] = True
            sentinel_kwargs = {
                "socket_timeout": options.timeout_s,
                "socket_connect_timeout": options.connect_timeout_s,
                "password": options.sentinel_password,
            }
            self._sentinel = _SENTINEL(
                list(options.sentinels),
                sentinel_kwargs=sentinel_kwargs,
                max_connections=POOL_MAX,
                **common,
                **kwargs,
            )
            master: aioredis.Redis = self._sentinel.master_for(options.sentinel_master)
            return master
        client: aioredis.Redis = aioredis.Redis.from_url(
            options.url, max_connections=POOL_MAX, **common
        )
        return client

    def begin(self, commands: Sequence[Command]) -> Awaitable[list[Reply]]:
        """Sent with the other calls of this turn of the loop (`_Turn`): the write leaves on the
        next turn, not before this returns (redis-py cannot write without an await), on a
        pooled connection, so a call of a later turn may overtake it (the RESP client keeps
        the order)."""
        refused = self.gate.refusal()
        if refused is not None:
            return refuse(refused)
        return self._start(commands)

    def send_soon(self, commands: Sequence[bytes]) -> asyncio.Future[list[Reply]]:
        self.gate.check()
        return self._start(commands)

    def send_soon_applied(
        self,
        command: bytes | Callable[[], bytes],
        noscript: Callable[[], bytes] | None = None,
    ) -> asyncio.Future[None]:
        # A function is encoded when the turn's calls are sent, as on the RESP client.
        sent = self._start([command])
        applied: asyncio.Future[None] = sent.get_loop().create_future()

        def outcome(sent: asyncio.Future[list[Reply]], again: Callable[[], bytes] | None) -> None:
            error = (
                sent.exception() if not sent.cancelled() else StateUnavailable("redis: cancelled")
            )
            if error is None:
                (reply,) = sent.result()
                if isinstance(reply, ReplyError):  # it ran nothing
                    if again is not None and reply.code == "NOSCRIPT":
                        self._start([again]).add_done_callback(lambda done: outcome(done, None))
                        return
                    error = reply
            if error is None:
                applied.set_result(None)
            else:
                applied.set_exception(error)

        sent.add_done_callback(lambda done: outcome(done, noscript))
        return applied

    def _start(
        self, commands: Sequence[Command | Callable[[], bytes]]
    ) -> asyncio.Future[list[Reply]]:
        """The replies, or StateUnavailable at the deadline whatever redis-py is doing then: a
        call it is cancelling may still be closing its connection (which can take another
        socket timeout), and that is left to finish in the background.

        Every call started in one turn of the loop joins that turn's `_Turn`: one task, one
        pooled connection and one pipeline send them all (at c = 64 a turn starts a dozen
        acquires and settles a dozen answers), and they share its deadline."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[list[Reply]] = loop.create_future()
        turn = self._turn
        if turn is None or turn.loop is not loop:  # (a turn left by a loop closed before it ran)
            turn = self._turn = _Turn(loop)
            task = loop.create_task(self._send_turn(turn))

            def expire() -> None:
                error = StateUnavailable(f"redis: no reply within {self.timeout_s:g} s", "timeout")
                if turn.fail(error):
                    self._failed(error)
                task.cancel()

            timer = loop.call_later(self.timeout_s, expire)

            def ended(_: asyncio.Task[None]) -> None:
                timer.cancel()
                if self._turn is turn:  # cancelled before it ran (the client closing)
                    self._turn = None
                turn.fail(StateUnavailable("redis: call cancelled", "timeout"))

            task.add_done_callback(ended)
        turn.calls.append((commands, outcome))
        self._waiting.add(outcome)
        outcome.add_done_callback(self._waiting.discard)
        return outcome

    def _failed(self, error: StateUnavailable) -> None:
        """A call failed with `error`: when that closes the gate (the server cannot be reached),
        every call still waiting fails now too ("down", as a call made now would), each left
        to end in the background (its task is cancelled at its own deadline)."""
        self.gate.failed(error)
        if self.gate.down is None:
            return
        for waiting in list(self._waiting):
            refusal = self.gate.refusal()
            if refusal is not None and not waiting.done():
                waiting.set_exception(refusal)

    async def _send_turn(self, turn: _Turn) -> None:
        """Send the calls of `turn` (closed now: a call started from here on begins the next
        turn) and hand each its replies, or the error."""
        if self._turn is turn:
            self._turn = None
        commands, counts = turn.encode()
        if not commands:  # nothing to send (calls without commands, or none left to encode)
            turn.deliver([], counts)
            return
        try:
            async with self._slots:
                if not self._ready:
                    await self._initialize()
                if len(commands) == 1:
                    replies = [await self._one(commands[0])]
                else:
                    pipe = self._redis.pipeline(transaction=False)
                    for command in commands:
                        pipe.execute_command(*command)
                    replies = [reply_value(r) for r in await pipe.execute(raise_on_error=False)]
        except asyncio.CancelledError:
            turn.fail(StateUnavailable("redis: call cancelled", "timeout"))
            raise
        except Exception as exc:  # noqa: BLE001 - whatever redis-py raised: unavailable
            error = unavailable(exc)
            if turn.fail(error):
                self._failed(error)
            return
        for error in turn.deliver(replies, counts):
            self._failed(error)

    async def _initialize(self) -> None:
        """Learn the cluster's slots once, before concurrent calls (redis-py's cluster client
        mishandles a burst of first calls racing to do it)."""
        async with self._initializing:
            if not self._ready:
                if isinstance(self._redis, RedisCluster):
                    await self._redis.initialize()
                self._ready = True

    async def _one(self, command: list[bytes | str | int]) -> Reply:
        try:
            reply: Reply = await self._redis.execute_command(*command)
        except (ResponseError, AuthenticationError) as exc:
            return reply_error(exc)
        return reply

    async def ping(self) -> bool:
        return await self.gate.probe_now()

    async def _probe(self) -> None:
        """A PING; on a Cluster, a read of a `{limits}` key instead: a PING goes to whichever
        node redis-py picks, which answers while the node serving the limits is stalled, so
        the gate reopened at once and every request waited out its own timeout for it."""
        try:
            async with asyncio.timeout(self.options.connect_timeout_s + self.timeout_s):
                if isinstance(self._redis, RedisCluster):
                    await self._redis.execute_command("EXISTS", self._probe_key)
                else:
                    await self._redis.ping()
        except Exception as exc:  # noqa: BLE001 - whatever redis-py raised: unavailable
            raise unavailable(exc) from exc

    async def aclose(self) -> None:
        await self.gate.aclose()
        await self._redis.aclose()
        if self._sentinel is not None:
            for sentinel in self._sentinel.sentinels:
                await sentinel.aclose()


class _Turn:
    """The calls started in one turn of the loop, sent in one pipeline: each call's commands
    (a function encodes one when the turn is sent) and the future of its replies."""

    __slots__ = ("calls", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop  # whose task sends it
        self.calls: list[
            tuple[Sequence[Command | Callable[[], bytes]], asyncio.Future[list[Reply]]]
        ] = []

    def encode(self) -> tuple[list[list[bytes | str | int]], list[int]]:
        """Every call's commands, decoded for redis-py, in order, and how many each call has.
        A call whose function fails to encode fails alone (it sends nothing)."""
        commands: list[list[bytes | str | int]] = []
        counts: list[int] = []
        for call, outcome in self.calls:
            try:
                decoded = [decode(c() if callable(c) else c) for c in call]
            except Exception as exc:  # noqa: BLE001 - that call's failure, not the turn's
                if not outcome.done():
                    outcome.set_exception(exc)
                decoded = []
            commands += decoded
            counts.append(len(decoded))
        return commands, counts

    def deliver(self, replies: list[Reply], counts: list[int]) -> list[StateUnavailable]:
        """Each call's replies (those meaning "cannot serve now" fail it instead); returns
        those failures."""
        failures: list[StateUnavailable] = []
        start = 0
        for (_, outcome), count in zip(self.calls, counts, strict=True):
            mine, start = replies[start : start + count], start + count
            if outcome.done():
                continue
            try:
                outcome.set_result(check_available(mine))
            except StateUnavailable as error:
                outcome.set_exception(error)
                failures.append(error)
        return failures

    def fail(self, error: StateUnavailable) -> bool:
        """Fail every call still waiting with `error`; whether any was."""
        failed = False
        for _, outcome in self.calls:
            if not outcome.done():
                outcome.set_exception(error)
                failed = True
        return failed
