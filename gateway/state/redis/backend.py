"""The Redis state backend: several gateway replicas share limits, budgets, cache and breakers.

Every check-and-reserve is one Lua script (`lua/*.lua`, run by EVALSHA), so replicas can never
overshoot a limit between a read and a write. Round trips per request: one `acquire` before the
upstream call, which also reads the breakers of the model's deployments (the script and one
HMGET per breaker written together, so the router needs no call of its own on its first
attempt), and one `settle` after it (`start_settle`: written before the limiter's `settle`
returns, so other replicas see the spend and the freed slots before the client's next request;
what follows while it is in flight goes in one batch). Every call goes through
`resp.RespClient`: one pipelined connection, no pool (see its docstring for why). The hot calls
are encoded from cached pieces (`resp.ScriptCall`): a check's key and limit, a breaker's read.

Key layout (prefix `llmgw:`; the `{...}` part is the Redis Cluster hash tag):

    llmgw:{limits}:rpm:<scope>:<subject>          hash: <second> -> amount, t<second> -> latest use,
                                                  sum -> the amounts of every stored bucket,
                                                  lo -> no bucket is stored below this second,
                                                  ot -> the latest use of the bucket at lo
                                                  pad -> 72 bytes, once the window spans 8 s
                                                  (a hash table, not a packed list: lua/acquire.lua)
    llmgw:{limits}:tpm:<scope>:<subject>          hash, as rpm
    llmgw:{limits}:concurrent:<scope>:<subject>   zset: reservation token -> slot expiry
    llmgw:{limits}:spend:<scope>:<subject>:day:<YYYY-MM-DD>   USD (float string), TTL 2 days
    llmgw:{limits}:spend:<scope>:<subject>:month:<YYYY-MM>    USD, TTL 62 days
    llmgw:{limits}:spend:<scope>:<subject>:total              USD, no TTL
    llmgw:{breakers}:<deployment>                 hash: see lua/breaker_record.lua
    llmgw:{cache:<key>}                           string: 8-byte expiry (big-endian double) + value

All limit keys share the `{limits}` tag, so on Redis Cluster they live in one slot and a single
script can touch every key of a request; breakers share `{breakers}` so many are read in one
round trip. The acquire script touches only `{limits}` keys: the breaker reads that travel with
it are separate HMGET commands in the same write, not part of the script, so the two tags never
have to share a slot. The price is that limits do not spread over cluster shards; cache entries
do, each under its own tag.
"""

from __future__ import annotations

import asyncio
import functools
import math
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.state import breaker
from gateway.state.base import (
    BUDGET_KINDS,
    CONCURRENT_RETRY_S,
    SLOT_TTL_S,
    WINDOW_KINDS,
    WINDOW_S,
    AcquireResult,
    BreakerState,
    CheckResult,
    LimitCheck,
    Reservation,
    Settlement,
    StateUnavailable,
    acquire_result,
    new_token,
    spend_subjects,
)
from gateway.state.periods import DAY_S, Periods, periods
from gateway.state.redis.resp import (
    UNAVAILABLE_PREFIXES,
    Arg,
    Reply,
    ReplyError,
    RespClient,
    Script,
    ScriptCall,
    bulk,
    encode,
)

LIMITS = "llmgw:{limits}:"
BREAKERS = "llmgw:{breakers}:"
# Real Redis TTLs only clean up; the limit logic itself runs on the injected clock.
WINDOW_KEY_TTL_S = 2 * WINDOW_S
DAY_KEY_TTL_S = int(2 * DAY_S)
MONTH_KEY_TTL_S = int(62 * DAY_S)
BREAKER_KEY_TTL_S = int(DAY_S)
_EXPIRY = struct.Struct(">d")
_LUA = Path(__file__).with_name("lua")


_BREAKER_FIELDS = ("f", "w", "ou", "pu")


def _script(name: str) -> Script:
    return Script((_LUA / f"{name}.lua").read_text())


ACQUIRE = _script("acquire")
APPLY = _script("apply")
USAGE = _script("usage")
BREAKER_RECORD = _script("breaker_record")
BREAKER_PROBE = _script("breaker_probe")


def limit_key(kind: str, scope: str, subject: str) -> str:
    return f"{LIMITS}{kind}:{scope}:{subject}"


def spend_keys(scope: str, subject: str, period: Periods) -> tuple[str, str, str]:
    """The day, month and all-time spend counters of one subject."""
    base = f"{LIMITS}spend:{scope}:{subject}:"
    return f"{base}day:{period.day}", f"{base}month:{period.month}", f"{base}total"


def cache_key(key: str) -> str:
    return f"llmgw:{{cache:{key}}}"


def _counter(check: LimitCheck, period: Periods, now: float) -> tuple[str, str, float]:
    """How `lua/acquire.lua` sees a check: (kind code, key, hint)."""
    if check.kind in WINDOW_KINDS:
        return "w", limit_key(check.kind, check.scope, check.subject), 0.0
    if check.kind == "concurrent":
        return "c", limit_key("concurrent", check.scope, check.subject), CONCURRENT_RETRY_S
    day, month, _ = spend_keys(check.scope, check.subject, period)
    if check.kind == "budget_day":
        return "b", day, period.day_end - now
    return "b", month, period.month_end - now


# A check's key and its "kind limit" arguments as RESP pieces, which stay the same from one
# request to the next: cached, so an acquire encodes only what changes (times, token, amounts).
_PIECES_MAX = 4096
_pieces: dict[tuple[str, str, str, float, str], tuple[str, str, str | None]] = {}


def _check_pieces(check: LimitCheck, period: Periods) -> tuple[str, str, str | None]:
    """(key, "code limit", hint) of one check as RESP pieces; the hint is None for a budget,
    whose hint (seconds to the period's end) depends on `now`."""
    # Budget keys name their day or month: part of the cache key, so a new period misses.
    when = (
        period.day
        if check.kind == "budget_day"
        else period.month
        if check.kind == "budget_month"
        else ""
    )
    cache_key = (check.kind, check.scope, check.subject, check.limit, when)
    pieces = _pieces.get(cache_key)
    if pieces is None:
        code, key, hint = _counter(check, period, 0.0)
        pieces = (
            bulk(key),
            bulk(code) + bulk(repr(float(check.limit))),
            None if code == "b" else bulk(repr(hint)),
        )
        if len(_pieces) >= _PIECES_MAX:
            _pieces.clear()
        _pieces[cache_key] = pieces
    return pieces


# The RESP pieces of the numbers 1..64: key counts and key indexes.
_INDEXES = [bulk(str(i)) for i in range(1, 65)]
_WINDOW_ARGS = bulk(repr(WINDOW_S)) + bulk(str(int(WINDOW_KEY_TTL_S * 1000)))


class RedisState:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        socket_timeout_s: float = 0.25,
        slot_ttl_s: float = SLOT_TTL_S,
    ) -> None:
        """`socket_timeout_s` bounds connecting and every reply, with no retries, so a dead Redis
        fails a call fast (StateUnavailable) instead of hanging it; the next call reconnects, so
        the backend recovers by itself once Redis is back. All calls share one pipelined
        connection."""
        self.slot_ttl_s = slot_ttl_s
        # slot_ttl_ms, window_s and window_ttl_ms: the same on every acquire.
        self._fixed_args = bulk(str(int(slot_ttl_s * 1000))) + _WINDOW_ARGS
        self._client = RespClient(url, socket_timeout_s=socket_timeout_s)

    # -- limits -----------------------------------------------------------------------------

    async def acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        while_waiting: Callable[[], None] | None = None,
    ) -> AcquireResult:
        token = new_token()
        if not checks:
            states = await self.breaker_states(breakers, now) if breakers else None
            return acquire_result(checks, [], token, now, states)
        period = periods(now)
        call = self._acquire_call(checks, now, token, period)
        commands: list[bytes] = [call.evalsha(), *(_breaker_read(name) for name in breakers)]
        # While Redis runs the script, encode what settling the reservation will write (wasted
        # on a refusal), then the caller's `while_waiting`: this process is idle then, and
        # Redis runs on another core.
        reservation = Reservation(token, tuple(checks), now)  # if all is allowed
        prepared: list[_PreparedSettle | None] = []

        def prepare() -> None:
            prepared.append(self.prepare_settle(reservation))
            if while_waiting is not None:
                while_waiting()

        replies = await self._client.pipeline(commands, prepare)
        reply = replies[0]
        if not isinstance(reply, bytes):  # NOSCRIPT: run by EVAL; else an error reply
            reply = await self._client.script_reply(call, reply)
            if not isinstance(reply, bytes):
                raise StateUnavailable(f"redis: unexpected acquire reply {reply!r}")
        fields = reply.split()  # "ok allowed remaining reset allowed remaining reset ..."
        if len(fields) != 1 + 3 * len(checks):
            raise StateUnavailable(f"redis: unexpected acquire reply {reply!r}")
        states = _breaker_views(breakers, replies[1:], now) if breakers else None
        if fields[0] == b"1":  # all allowed: the numbers are parsed when first read
            parts = functools.partial(_check_results, reservation.checks, fields)
            return AcquireResult(
                True, parts, reservation, 0.0, states or {}, prepared[0] if prepared else None
            )
        return acquire_result(checks, _check_results(checks, fields), token, now, states)

    def _acquire_call(
        self, checks: Sequence[LimitCheck], now: float, token: str, period: Periods
    ) -> ScriptCall:
        """`lua/acquire.lua`'s call: KEYS, the 7 common ARGV, then 4 ARGV per check."""
        keys = [
            _INDEXES[len(checks) - 1] if len(checks) <= len(_INDEXES) else bulk(str(len(checks)))
        ]
        per_check = []
        for check in checks:
            key, code_limit, hint = _check_pieces(check, period)
            keys.append(key)
            per_check.append(code_limit)
            per_check.append(bulk(repr(float(check.amount))))
            if hint is None:  # a budget: seconds to its period's end
                end = period.day_end if check.kind == "budget_day" else period.month_end
                hint = bulk(repr(end - now))
            per_check.append(hint)
        common = (
            bulk(repr(now))
            + bulk(str(math.floor(now)))
            + bulk(token)
            + bulk(repr(now + self.slot_ttl_s))
            + self._fixed_args
        )
        text = "".join(keys) + common + "".join(per_check)
        return ScriptCall(ACQUIRE, text.encode(), 1 + len(checks) + 7 + 4 * len(checks))

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        call = self._settle_call(settlements, now)
        if call is not None:
            await self._client.run(call)

    def start_settle(
        self, settlements: Sequence[Settlement], now: float
    ) -> asyncio.Future[None] | None:
        call = self._settle_call(settlements, now)
        if call is None:
            return None
        sent = self._client.send_now([call.evalsha()])
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def applied(sent: asyncio.Future[list[Reply]]) -> None:
            error = (
                sent.exception() if not sent.cancelled() else StateUnavailable("redis: cancelled")
            )
            if error is None:
                (reply,) = sent.result()
                if isinstance(reply, ReplyError):
                    # NOSCRIPT (a restarted server) ran nothing: `settle` sends it again by EVAL.
                    # READONLY / LOADING: this server cannot take writes now.
                    text = str(reply)
                    retry = text.startswith(("NOSCRIPT", *UNAVAILABLE_PREFIXES))
                    error = StateUnavailable(f"redis: {text}") if retry else reply
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

        sent.add_done_callback(applied)
        return done

    def prepare_settle(self, reservation: Reservation) -> _PreparedSettle | None:
        """The reservation's `lua/apply.lua` call, encoded but for the tokens used and the cost
        (`_PreparedSettle`); None when settling it writes nothing."""
        ops = _Ops()
        tpm: list[tuple[int, float]] = []
        budgeted: list[tuple[str, str]] = []
        for check in reservation.checks:
            kind = check.kind
            if kind == "concurrent":
                ops.free_slot(check, reservation.token)
            elif kind == "tpm":
                tpm.append((ops.adjust_later(check, reservation.at), check.amount))
            elif kind in BUDGET_KINDS and (check.scope, check.subject) not in budgeted:
                budgeted.append((check.scope, check.subject))
        period = periods(reservation.at)
        usd: list[int] = []
        for scope, subject in budgeted:
            day, month, total = spend_keys(scope, subject, period)
            usd += [
                ops.add_spend_later(day, DAY_KEY_TTL_S),
                ops.add_spend_later(month, MONTH_KEY_TTL_S),
            ]
            usd.append(ops.add_spend_later(total, 0))
        if not ops.args:
            return None
        return _PreparedSettle(ops.parts(), tuple(tpm), tuple(usd), ops.nargs(), period)

    def _settle_call(self, settlements: Sequence[Settlement], now: float) -> ScriptCall | None:
        """The `lua/apply.lua` call that applies these settlements (None: nothing to write). A
        lone settlement whose call was prepared (`prepare_settle`) only has its numbers filled in."""
        if len(settlements) == 1:
            settlement = settlements[0]
            prepared = settlement.prepared
            if isinstance(prepared, _PreparedSettle) and prepared.fits(settlement, now):
                return prepared.call(settlement.actual_tokens, settlement.cost_usd)
        ops = self._settle_ops(settlements, now)
        return ops.call() if ops.args else None

    def _settle_ops(self, settlements: Sequence[Settlement], now: float) -> _Ops:
        ops = _Ops()
        period: Periods | None = None
        for settlement in settlements:
            reservation = settlement.reservation
            budgeted = False
            for check in reservation.checks:
                kind = check.kind
                if kind == "concurrent":
                    ops.free_slot(check, reservation.token)
                elif kind == "tpm":
                    ops.adjust(check, reservation.at, settlement.actual_tokens - check.amount)
                elif kind in BUDGET_KINDS:
                    budgeted = True
            if settlement.cost_usd and (budgeted or settlement.spend_subjects):
                period = period or periods(now)
                for scope, subject in spend_subjects(settlement):
                    day, month, total = spend_keys(scope, subject, period)
                    ops.add_spend(day, settlement.cost_usd, DAY_KEY_TTL_S)
                    ops.add_spend(month, settlement.cost_usd, MONTH_KEY_TTL_S)
                    ops.add_spend(total, settlement.cost_usd, 0)
        return ops

    async def release(self, reservation: Reservation, now: float) -> None:
        ops = _Ops()
        for check in reservation.checks:
            if check.kind == "concurrent":
                ops.free_slot(check, reservation.token)
            elif check.kind in WINDOW_KINDS:
                ops.adjust(check, reservation.at, -check.amount)
        await self._run(ops)

    async def _run(self, ops: _Ops) -> None:
        if ops.args:
            await self._client.run(ops.call())

    async def spend(self, scope: str, subject: str, now: float) -> dict[str, float]:
        values = await self._client.execute("MGET", *spend_keys(scope, subject, periods(now)))
        assert isinstance(values, list)
        day, month, total = (float(value) if value is not None else 0.0 for value in values)  # type: ignore[arg-type]
        return {"day": day, "month": month, "total": total}

    async def usage(self, scope: str, subject: str, now: float) -> dict[str, float]:
        keys: list[Arg] = [limit_key(kind, scope, subject) for kind in ("rpm", "tpm", "concurrent")]
        reply = await self._client.evalsha(USAGE, keys, [repr(now), repr(WINDOW_S)])
        assert isinstance(reply, list)
        requests, tokens, slots = reply
        return {
            "requests_1m": float(requests),  # type: ignore[arg-type]
            "tokens_1m": float(tokens),  # type: ignore[arg-type]
            "concurrent": float(slots),  # type: ignore[arg-type]
        }

    # -- cache ------------------------------------------------------------------------------

    async def get(self, key: str, now: float) -> bytes | None:
        stored = await self._client.execute("GET", cache_key(key))
        if not isinstance(stored, bytes) or len(stored) < _EXPIRY.size:
            return None
        (expiry,) = _EXPIRY.unpack_from(stored)
        return None if expiry <= now else stored[_EXPIRY.size :]

    async def set(self, key: str, value: bytes, ttl_s: float, now: float) -> None:
        if ttl_s <= 0:
            await self.delete(key)
            return
        await self._client.execute(
            "SET",
            cache_key(key),
            _EXPIRY.pack(now + ttl_s) + value,
            "PX",
            max(1, math.ceil(ttl_s * 1000)),
        )

    async def delete(self, key: str) -> None:
        await self._client.execute("DEL", cache_key(key))

    # -- circuit breakers -------------------------------------------------------------------

    async def breaker_record(
        self,
        deployment: str,
        ok: bool,
        now: float,
        failure_threshold: int,
        window_s: float,
        cooldown_s: float,
    ) -> BreakerState:
        key_ttl = max(BREAKER_KEY_TTL_S, math.ceil(2 * (window_s + cooldown_s)))
        args: list[Arg] = ["1" if ok else "0", repr(now), failure_threshold, repr(float(window_s))]
        args += [repr(float(cooldown_s)), key_ttl]
        fields = await self._client.evalsha(BREAKER_RECORD, [BREAKERS + deployment], args)
        assert isinstance(fields, list)
        return breaker.view(breaker.from_fields(fields), now)  # type: ignore[arg-type]

    async def breaker_states(
        self, deployments: Sequence[str], now: float
    ) -> dict[str, BreakerState]:
        if not deployments:
            return {}
        replies = await self._client.pipeline([_breaker_read(name) for name in deployments])
        return _breaker_views(deployments, replies, now)

    async def breaker_try_probe(self, deployment: str, now: float, probe_timeout_s: float) -> bool:
        won = await self._client.evalsha(
            BREAKER_PROBE, [BREAKERS + deployment], [repr(now), repr(float(probe_timeout_s))]
        )
        return won == 1

    async def ping(self) -> bool:
        """True when Redis answers; False (never an exception) when it cannot be reached."""
        try:
            return await self._client.execute("PING") == b"PONG"
        except StateUnavailable:
            return False

    async def aclose(self) -> None:
        await self._client.aclose()


def _check_results(checks: Sequence[LimitCheck], fields: list[bytes]) -> tuple[CheckResult, ...]:
    """Per check: "allowed remaining reset" (fields[0] is the overall verdict)."""
    return tuple(
        CheckResult(
            check, fields[1 + 3 * i] == b"1", float(fields[2 + 3 * i]), float(fields[3 + 3 * i])
        )
        for i, check in enumerate(checks)
    )


_breaker_reads: dict[str, bytes] = {}


def _breaker_read(deployment: str) -> bytes:
    """The encoded HMGET of one breaker (cached: the same bytes on every request)."""
    command = _breaker_reads.get(deployment)
    if command is None:
        if len(_breaker_reads) >= _PIECES_MAX:
            _breaker_reads.clear()
        command = _breaker_reads[deployment] = encode(
            ["HMGET", BREAKERS + deployment, *_BREAKER_FIELDS]
        )
    return command


def _breaker_views(
    deployments: Sequence[str], replies: Sequence[Reply], now: float
) -> dict[str, BreakerState]:
    views = {}
    for name, fields in zip(deployments, replies):
        if not isinstance(fields, list):
            raise StateUnavailable(f"redis: unexpected breaker reply {fields!r}")
        views[name] = breaker.view(breaker.from_fields(fields), now)  # type: ignore[arg-type]
    return views


_OP_SLOT, _OP_WINDOW, _OP_SPEND, _NONE = bulk("z"), bulk("w"), bulk("s"), bulk("")


_key_pieces: dict[tuple[str, str, str], str] = {}


def _key_piece(kind: str, scope: str, subject: str) -> str:
    """The RESP piece of a window's or concurrency zset's key (cached, like `_check_pieces`)."""
    piece = _key_pieces.get((kind, scope, subject))
    if piece is None:
        if len(_key_pieces) >= _PIECES_MAX:
            _key_pieces.clear()
        piece = _key_pieces[(kind, scope, subject)] = bulk(limit_key(kind, scope, subject))
    return piece


class _Ops:
    """The operations of one `lua/apply.lua` call: keys numbered once, ARGV in groups of 4,
    kept as RESP pieces (`call` joins them)."""

    def __init__(self) -> None:
        self.keys: dict[
            str, str
        ] = {}  # a key's RESP piece -> its 1-based index into KEYS (a piece)
        self.args: list[str] = []

    def _index(self, key_piece: str) -> str:
        index = self.keys.get(key_piece)
        if index is None:
            n = len(self.keys)
            index = self.keys[key_piece] = _INDEXES[n] if n < len(_INDEXES) else bulk(str(n + 1))
        return index

    def free_slot(self, check: LimitCheck, token: str) -> None:
        key = self._index(_key_piece("concurrent", check.scope, check.subject))
        self.args += [_OP_SLOT, key, bulk(token), _NONE]

    def adjust(self, check: LimitCheck, at: float, delta: float) -> None:
        if delta:
            key = self._index(_key_piece(check.kind, check.scope, check.subject))
            self.args += [_OP_WINDOW, key, bulk(str(math.floor(at))), bulk(repr(float(delta)))]

    def add_spend(self, key: str, usd: float, ttl_s: int) -> None:
        self.args += [_OP_SPEND, self._index(bulk(key)), bulk(repr(float(usd))), bulk(str(ttl_s))]

    # For a prepared call (`_PreparedSettle`): the op with a hole where its number goes; returns
    # the hole's index in `parts()`.
    def adjust_later(self, check: LimitCheck, at: float) -> int:
        key = self._index(_key_piece(check.kind, check.scope, check.subject))
        self.args += [_OP_WINDOW, key, bulk(str(math.floor(at))), _NONE]
        return len(self.args)  # parts() puts the keys first: args[i] is parts()[i + 1]

    def add_spend_later(self, key: str, ttl_s: int) -> int:
        self.args += [_OP_SPEND, self._index(bulk(key)), _NONE, bulk(str(ttl_s))]
        return len(self.args) - 1

    def parts(self) -> list[str]:
        """The call's text in pieces: numkeys and KEYS, then each ARGV."""
        return [bulk(str(len(self.keys))) + "".join(self.keys), *self.args]

    def nargs(self) -> int:
        return 1 + len(self.keys) + len(self.args)

    def call(self) -> ScriptCall:
        return ScriptCall(APPLY, "".join(self.parts()).encode(), self.nargs())


class _PreparedSettle:
    """One reservation's `lua/apply.lua` call, encoded while the upstream works
    (`RedisState.prepare_settle`): its keys, its slot frees and the bucket of each tpm
    adjustment are known then. `call` fills in what only the end of the call knows: each tpm
    change (tokens used - tokens reserved) and the cost added to each budgeted subject's spend.
    The result is the call `_settle_ops` would build for the same settlement alone."""

    __slots__ = ("nargs", "parts", "period", "tpm", "usd")

    def __init__(
        self,
        parts: list[str],
        tpm: tuple[tuple[int, float], ...],
        usd: tuple[int, ...],
        nargs: int,
        period: Periods,
    ) -> None:
        self.parts = parts
        self.tpm = tpm  # (hole, tokens reserved)
        self.usd = usd  # holes for the cost
        self.nargs = nargs
        self.period = period  # the day and month whose spend keys it names

    def fits(self, settlement: Settlement, now: float) -> bool:
        """False where `_settle_ops` would write something else: an extra spend subject, a tpm
        reservation that was exact (no change to write), no cost to add, or a new day or month."""
        if settlement.spend_subjects:
            return False
        if any(settlement.actual_tokens == reserved for _, reserved in self.tpm):
            return False
        return not self.usd or (settlement.cost_usd != 0 and periods(now) == self.period)

    def call(self, actual_tokens: int, cost_usd: float) -> ScriptCall:
        parts = self.parts.copy()
        for hole, reserved in self.tpm:
            parts[hole] = bulk(repr(float(actual_tokens - reserved)))
        if self.usd:
            usd = bulk(repr(float(cost_usd)))
            for hole in self.usd:
                parts[hole] = usd
        return ScriptCall(APPLY, "".join(parts).encode(), self.nargs)
