"""The Redis state backend: several gateway replicas share limits, budgets, cache and breakers.

Every check-and-reserve is one Lua script (`lua/*.lua`, run by EVALSHA), so replicas can never
overshoot a limit between a read and a write. Round trips per request: one acquire before the
upstream call, which also reads the breakers of the model's deployments (the script and one
HMGET per breaker written together, so the router needs no call of its own on its first
attempt), and one settle after it (the settlements started in one turn share one call). Both
are sent without an await, and the RESP client writes every call made in one turn of the loop in
one write, at its end: `begin_acquire` leaves the caller free until it awaits the verdict;
`start_settle` (called just before the answer's last byte) has the spend and the freed slots
written (and encoded: after the byte has left) in the same turn as that byte, before this
process reads anything more, so other replicas see them before the client's next request can
reach one (a network round trip later). Every call goes
through a `client.RedisClient`, redis-py or the hand-written RESP client, as `[state] client`
says (`options.py`); every failure of either is `StateUnavailable`. The hot calls are encoded
from cached pieces (`commands.ScriptCall`): the acquire in `acquire_call.py`, the breaker reads
that travel with it in `breaker_reads.py`, settle and release calls in `settle_calls.py`. Key
names are built in `keys.py`, the scripts loaded in `scripts.py`; the cache entries and
remembered values are `values.py`'s, the breaker calls `breakers.py`'s, the semantic cache's
shared vectors `vectors.py`'s.

Key layout (each name starts with `[state] key_prefix` and ":", here the default `llmgw`; the
`{...}` part is the Redis Cluster hash tag):

    llmgw:{limits}:rpm:<scope>:<subject>          hash: <second> -> amount, t<second> -> latest use,
                                                  sum -> the amounts of every stored bucket,
                                                  lo -> no bucket is stored below this second,
                                                  ot -> the latest use of the bucket at lo
                                                  pad -> 72 bytes, once the window spans 8 s
                                                  (a hash table, not a packed list: lua/acquire.lua)
    llmgw:{limits}:tpm:<scope>:<subject>          hash, as rpm
    llmgw:{limits}:concurrent:<scope>:<subject>   zset: reservation token -> slot expiry, and a
                                                  72-byte padding member at score 0 (a
                                                  skiplist, not a packed list: lua/acquire.lua)
    llmgw:{limits}:r:<token>                      "h" while an allowed acquire is held (until
                                                  settled, or its hold ends; an rpm-only one, never
                                                  settled, for at most a window), "g" once
                                                  abandoned before its acquire ran (lua/apply.lua)
    llmgw:{limits}:s:<receipt>                    "1" for 300 s once a settlement call ran: sent
                                                  again (its reply lost), it applies nothing
    llmgw:{limits}:spend:<scope>:<subject>:day:<YYYY-MM-DD>   USD (float string), TTL 2 days,
                                                  settled spend plus budget reservations
    llmgw:{limits}:spend:<scope>:<subject>:month:<YYYY-MM>    USD, TTL 62 days
    llmgw:{limits}:spend:<scope>:<subject>:total              USD, no TTL (an end user's: 62 days)
    llmgw:{breakers}:<deployment>                 hash: see lua/breaker_record.lua
    llmgw:{cache:<key>}                           string: 8-byte expiry (big-endian double) + value
    llmgw:{remembered:<key>}                      string: as a cache entry (`remember`)
    llmgw:{semantic}:vectors                      stream: the semantic cache's vectors, field
                                                  e -> gateway/cache/semantic_share.py's entry;
                                                  about the newest 10,000, TTL the longest
                                                  cache TTL of those added (lua/vector_add.lua)

All limit keys share the `{limits}` tag, so on Redis Cluster they live in one slot and a single
script can touch every key of a request; breakers share `{breakers}` so many are read in one
round trip. The acquire script touches only `{limits}` keys: the breaker reads that travel with
it are separate HMGET commands in the same write, not part of the script, so the two tags never
have to share a slot. The price is that limits do not spread over cluster shards; cache entries
do, each under its own tag.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
from collections.abc import Awaitable, Coroutine, Sequence

from gateway.state.base import (
    SLOT_TTL_S,
    WINDOW_S,
    AcquireResult,
    LimitCheck,
    Reservation,
    Settlement,
    StateUnavailable,
    new_token,
)
from gateway.state.periods import periods
from gateway.state.prepared import PreparedChecks
from gateway.state.redis.acquire_call import AcquireCalls, UnparsedResults, check_results
from gateway.state.redis.breaker_reads import BreakerReads, breaker_views
from gateway.state.redis.breakers import RedisBreakers
from gateway.state.redis.clients import open_client
from gateway.state.redis.commands import ScriptCall
from gateway.state.redis.keys import KeyNames
from gateway.state.redis.options import RedisOptions
from gateway.state.redis.scripts import APPLY, USAGE
from gateway.state.redis.settle_calls import abandon_ops, release_ops, settle_ops
from gateway.state.redis.start_checks import start_warnings
from gateway.state.redis.values import RedisValues
from gateway.state.redis.vectors import RedisSharedVectors
from gateway.state.redis.wire import Arg, Reply, ReplyError, encode
from gateway.state.reservations import acquire_result


class RedisState(RedisValues, RedisBreakers, RedisSharedVectors):
    name = "redis"
    prepares = False  # an acquire is a round trip whatever is prepared: `prepare`

    def __init__(
        self,
        target: str | RedisOptions,
        *,
        socket_timeout_s: float | None = None,
        slot_ttl_s: float = SLOT_TTL_S,
    ) -> None:
        """`target`: a URL, or every option (`options.RedisOptions`). `socket_timeout_s`, when
        given, replaces the options' `timeout_s`: the longest wait for a reply, with no retries,
        so a dead Redis fails a call fast (StateUnavailable) instead of hanging it; the client
        reconnects in the background, so the backend recovers by itself once Redis is back."""
        options = RedisOptions(url=target) if isinstance(target, str) else target
        if socket_timeout_s is not None:
            options = dataclasses.replace(options, timeout_s=socket_timeout_s)
        self.slot_ttl_s = slot_ttl_s  # the hold of an acquire that names none
        # Every key name under `options.key_prefix` (a bad one raises before any connection),
        # and the encoded calls that repeat them.
        self.keys = names = KeyNames(options.key_prefix)
        self._acquire_call = AcquireCalls(names).call
        self._breaker_read = BreakerReads(names).read
        self._client = open_client(options)
        self.client_name = self._client.name
        # The settlements started in this turn of the loop and not yet encoded: one script
        # call for all of them (`start_settle`).
        self._settling: _TurnSettlements | None = None

    # -- limits -----------------------------------------------------------------------------

    def begin_acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        *,
        token: str | None = None,
        hold_s: float | None = None,
        shape: object = None,
    ) -> Coroutine[object, object, AcquireResult]:
        """On an open connection the script call (and the breaker reads) is sent before this
        returns (the RESP client writes it at the end of the turn); without one, awaiting
        connects first."""
        token = token or new_token()
        if not checks:
            return self._breakers_only(token, now, breakers)
        hold = self.slot_ttl_s if hold_s is None else hold_s
        reservation = Reservation(token, tuple(checks), now, hold)  # if all is allowed
        call = self._acquire_call(reservation, shape)
        sent = self._client.begin([call.evalsha(), *map(self._breaker_read, breakers)])
        return self._acquire_reply(sent, call, reservation, breakers)

    # `begin_acquire` itself: its coroutine, not one more awaiting it, and no call passing the
    # arguments on (~35 opcodes and a coroutine frame less a request); sent when called.
    acquire = begin_acquire

    async def _breakers_only(
        self, token: str, now: float, breakers: Sequence[str]
    ) -> AcquireResult:
        states = await self.breaker_states(breakers, now) if breakers else None
        return acquire_result((), [], token, now, states)

    async def _acquire_reply(
        self,
        sent: Awaitable[list[Reply]],
        call: ScriptCall,
        reservation: Reservation,
        breakers: Sequence[str],
    ) -> AcquireResult:
        checks, now = reservation.checks, reservation.at
        replies = await sent
        reply = replies[0]
        if not isinstance(reply, bytes):  # NOSCRIPT: run by EVAL; else an error reply
            if (
                isinstance(reply, ReplyError)
                and reply.code == "NOSCRIPT"
                and self.client_name == "resp"
            ):
                self._load_apply_script()
            reply = await self._client.script_reply(call, reply)
            if not isinstance(reply, bytes):
                raise StateUnavailable(f"redis: unexpected acquire reply {reply!r}")
        fields = reply.split()  # "ok allowed remaining reset allowed remaining reset ..."
        if len(fields) != 1 + 3 * len(checks):
            raise StateUnavailable(f"redis: unexpected acquire reply {reply!r}")
        states = breaker_views(breakers, replies[1:], now) if breakers else None
        if fields[0] == b"1":  # all allowed: the numbers are parsed when first read
            parts = UnparsedResults(checks, fields)
            return AcquireResult(True, parts, reservation, 0.0, states or {})
        return acquire_result(checks, check_results(checks, fields), reservation.token, now, states)

    def _load_apply_script(self) -> None:
        """A server that lacks the acquire script (a new or restarted one) lacks the settle
        script too: load it now, so the first slots freed (`start_settle`, which cannot wait
        for a NOSCRIPT round trip) are freed at once, not on the flusher's retry. Best effort:
        if it fails, the settlement falls back on EVAL as before. RESP client only: it writes
        in order, on one server, ahead of the settlements (redis-py may reorder its calls, and
        a Cluster cannot route a keyless SCRIPT LOAD)."""
        with contextlib.suppress(Exception):
            loaded = self._client.send_soon([encode(["SCRIPT", "LOAD", APPLY.text])])
            loaded.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        call = settle_ops(self.keys, settlements, now).call()
        if call is not None:
            await self._client.run(call)

    def prepare(self, checks: Sequence[LimitCheck]) -> PreparedChecks | None:
        """None: an acquire is a round trip whatever is prepared (its encoding is cached
        already, `acquire_call`)."""
        return None

    def start_settle(
        self, settlements: Sequence[Settlement], now: float
    ) -> asyncio.Future[None] | None:
        """Written at the end of this turn of the loop (the client's `send_soon_applied`), and
        encoded then too: called just before an answer's last byte, the encoding (~400
        interpreter opcodes for one request's settlement) waits until that byte has left instead
        of holding it back. Only a settlement that may have nothing to write (no reservation
        holds a check, so there is no mark to drop) is encoded now, to find out. The future
        fails when it ran nothing, a StateUnavailable: OOM, READONLY and the rest, which the
        limiter retries; NOSCRIPT (a restarted, flushed or newly promoted server) is no failure:
        the client sends the call again as an EVAL at once (`noscript`).

        Settlements started in the same turn join one call until it is written (both clients
        encode the turn's calls at its end): at c = 64 a turn ends a dozen answers or more, so
        one script call settles them all, and they share its future (a caller that retries
        retries its own settlements)."""
        for settlement in settlements:  # (a loop, not any() of a generator: ~10 opcodes)
            if not settlement.reservation.checks:
                continue
            turn = self._settling
            if turn is not None and turn.applied is not None and not turn.applied.done():
                turn.settlements += settlements  # not encoded yet: one call for both
                return turn.applied
            turn = self._settling = _TurnSettlements(list(settlements), now)
            try:
                applied = self._client.send_soon_applied(
                    functools.partial(self._settle_turn, turn),
                    noscript=functools.partial(_evaluated, turn),
                )
            except BaseException:
                if self._settling is turn:
                    self._settling = None
                raise
            turn.applied = applied
            return applied
        call = settle_ops(self.keys, settlements, now).call()
        if call is None:
            return None
        return self._client.send_soon_applied(call.evalsha(), noscript=call.eval)

    def _settle_turn(self, turn: _TurnSettlements) -> bytes:
        """The EVALSHA of every settlement started in this turn, as it is written (later ones
        start the next call)."""
        if self._settling is turn:
            self._settling = None
        call = turn.call = settle_ops(self.keys, turn.settlements, turn.now).call()
        assert call is not None  # a reservation holds a check: there is a mark to drop
        return call.evalsha()

    async def release(self, reservation: Reservation, now: float) -> None:
        call = release_ops(self.keys, reservation).call()
        if call is not None:
            await self._client.run(call)

    async def abandon(self, reservations: Sequence[Reservation], now: float) -> None:
        call = abandon_ops(self.keys, reservations).call()
        if call is not None:
            await self._client.run(call)

    async def spend(self, scope: str, subject: str, now: float) -> dict[str, float]:
        keys = self.keys.spend_keys(scope, subject, periods(now))
        values = await self._client.execute("MGET", *keys)
        assert isinstance(values, list)
        day, month, total = (float(value) if value is not None else 0.0 for value in values)  # type: ignore[arg-type]
        return {"day": day, "month": month, "total": total}

    async def usage(self, scope: str, subject: str, now: float) -> dict[str, float]:
        kinds = ("rpm", "tpm", "concurrent")
        keys: list[Arg] = [self.keys.limit_key(kind, scope, subject) for kind in kinds]
        reply = await self._client.evalsha(USAGE, keys, [repr(now), repr(WINDOW_S)])
        assert isinstance(reply, list)
        requests, tokens, slots = reply
        return {
            "requests_1m": float(requests),  # type: ignore[arg-type]
            "tokens_1m": float(tokens),  # type: ignore[arg-type]
            "concurrent": float(slots),  # type: ignore[arg-type]
        }

    async def ping(self) -> bool:
        """True when Redis answers; False (never an exception) when it cannot be reached."""
        return await self._client.ping()

    async def warnings(self) -> list[str]:
        return await start_warnings(self._client)

    async def aclose(self) -> None:
        await self._client.aclose()


class _TurnSettlements:
    """Settlements that leave in one script call, and whether it applied."""

    __slots__ = ("applied", "call", "now", "settlements")

    def __init__(self, settlements: list[Settlement], now: float) -> None:
        self.settlements = settlements
        self.now = now
        self.applied: asyncio.Future[None] | None = None  # once sent
        self.call: ScriptCall | None = None  # once encoded


def _evaluated(turn: _TurnSettlements) -> bytes:
    """The turn's call as an EVAL (sent instead when its EVALSHA got NOSCRIPT)."""
    assert turn.call is not None
    return turn.call.eval()
