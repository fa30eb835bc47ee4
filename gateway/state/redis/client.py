"""The interface the Redis backend talks to, and what every client built on it shares.

Two clients implement it, picked by name (`[state] client`, `options.py`): `redispy.py` wraps
redis-py (`redis.asyncio`), the reference, for every deployment shape (standalone, TLS, ACL,
unix socket, Sentinel, Cluster); `resp.py` is a hand-written pipelined RESP2 client, a fast path
for a single standalone server. Both pass the same contract and fault suites (tests/unit/state).

What a client promises:

- `begin(commands)` sends commands (encoded, `commands.Command`) and returns an awaitable of
  their replies in order, error replies as `ReplyError` values; it never raises itself.
  Awaiting it raises `StateUnavailable` when the server cannot be reached, does not answer within
  the timeout, or answers "cannot serve now" (READONLY, LOADING, MASTERDOWN).
- `send_soon(commands)`: the same, as a future, without an await: written at the end of this
  turn of the loop (the RESP client: in one write with every other call of the turn, in the
  order they were made; redis-py: in one pipeline with every other call of the turn, from one
  task on one pooled connection); raises StateUnavailable when it cannot even start.
- `send_soon_applied(command)`: `send_soon` of one command whose reply only says whether it
  applied (a settlement's): the future ends with None, or with the error (an error reply or
  StateUnavailable). `command` may be a function that encodes it, called when it is written
  (the RESP client: at the end of the turn, so work done just before an answer's last byte
  waits until that byte has left; redis-py: when the turn's pipeline is sent). `noscript`,
  when given, encodes what to send instead should the reply be NOSCRIPT (the script's EVAL:
  a restarted, flushed or newly promoted server), sent at once by the client itself, so the
  settlement applies within the round trip instead of on the limiter's retry half a second
  later (and is no state error).
- No call waits more than one timeout, and none waits behind a reconnect (`gate.Gate`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from gateway.state.base import StateUnavailable
from gateway.state.redis.commands import Command, Script, ScriptCall
from gateway.state.redis.gate import Gate
from gateway.state.redis.wire import UNAVAILABLE_PREFIXES, Arg, Reply, ReplyError


class RedisClient(Protocol):
    name: str  # "resp" | "redis-py"

    def begin(self, commands: Sequence[Command]) -> Awaitable[list[Reply]]: ...

    def send_soon(self, commands: Sequence[bytes]) -> asyncio.Future[list[Reply]]: ...

    def send_soon_applied(
        self,
        command: bytes | Callable[[], bytes],
        noscript: Callable[[], bytes] | None = None,
    ) -> asyncio.Future[None]: ...

    async def pipeline(self, commands: Sequence[Command]) -> list[Reply]: ...

    async def execute(self, *command: Arg) -> Reply: ...

    async def script_reply(self, call: ScriptCall, reply: Reply) -> Reply: ...

    async def run(self, call: ScriptCall) -> Reply: ...

    async def evalsha(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Reply: ...

    async def ping(self) -> bool:
        """True when Redis answers; False (never an exception) when it cannot be reached."""
        ...

    async def aclose(self) -> None: ...


def check_available(replies: list[Reply]) -> list[Reply]:
    """The replies; an error reply meaning "this server cannot serve now" raises it (a
    StateUnavailable), like a lost connection."""
    error = unavailable(replies)
    if error is not None:
        raise error
    return replies


def unavailable(replies: list[Reply]) -> ReplyError | None:
    """The first error reply meaning "this server cannot serve now", if any."""
    for reply in replies:
        if isinstance(reply, ReplyError) and str(reply).startswith(UNAVAILABLE_PREFIXES):
            return reply
    return None


async def refuse(error: StateUnavailable) -> list[Reply]:
    """An awaitable that raises `error` (what `begin` returns when it cannot send)."""
    raise error


class ClientBase:
    """The calls every client derives from its own `begin`."""

    gate: Gate

    def begin(self, commands: Sequence[Command]) -> Awaitable[list[Reply]]:
        raise NotImplementedError

    async def pipeline(self, commands: Sequence[Command]) -> list[Reply]:
        """Send every command and return their replies in order (one round trip where the
        client can); error replies are returned as ReplyError values, not raised."""
        return await self.begin(commands)

    async def execute(self, *command: Arg) -> Reply:
        """Send one command and return its reply; raises ReplyError for an error reply."""
        (reply,) = await self.begin((command,))
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    async def script_reply(self, call: ScriptCall, reply: Reply) -> Reply:
        """The script's result, given the reply to its EVALSHA: on NOSCRIPT (a restarted,
        flushed or newly promoted server, or a cluster node that never ran it) it is run again
        with EVAL, which also caches it on that server. Raises ReplyError for an error reply."""
        if isinstance(reply, ReplyError):
            if reply.code != "NOSCRIPT":
                raise reply
            (reply,) = await self.begin([call.eval()])
            if isinstance(reply, ReplyError):
                raise reply
        return reply

    async def run(self, call: ScriptCall) -> Reply:
        """Run a script call (EVALSHA, EVAL on NOSCRIPT); raises ReplyError for an error reply."""
        (reply,) = await self.begin([call.evalsha()])
        return await self.script_reply(call, reply)

    async def evalsha(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Reply:
        return await self.run(script.call(keys, args))

    async def ping(self) -> bool:
        if self.gate.down is not None:  # do not wait for the next background probe
            return await self.gate.probe_now()
        try:
            return await self.execute("PING") == b"PONG"
        except StateUnavailable:
            return False
