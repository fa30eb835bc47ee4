"""The shared-state interface behind rate limits, budgets, the response cache and breakers.

One small async protocol, `StateBackend`, with two implementations picked by name
(`gateway.state.create_state`): `memory.MemoryState` (one process, the embedded default) and
`redis.RedisState` (several gateway replicas on one Redis). Both pass the same contract suite in
`tests/unit/state/`. Every method takes the clock as `now` (Unix seconds) so tests never sleep.

Limit semantics, identical in both backends:

- rpm / tpm: a 60 s sliding window that never admits more than `limit` in any 60 s span. Usage is
  kept in 1-second buckets, each remembering its latest use; a bucket counts until that latest use
  is 60 s old, so a bucket can only ever count a little too long, never too short.
- concurrent: slots held by reservation token, freed by settle/release/abandon, or when the
  acquire's `hold_s` has passed (the request's deadline plus a grace: a replica that died
  holding a slot cannot leak it for long). Each concurrent check takes one slot.
- budget_day / budget_month: the acquire reserves the check's amount (the request's estimated
  cost) in the spend of the current UTC day / month, atomically with the check: refused when
  that spend (settled and reserved) plus the amount would exceed `limit`. `settle` replaces the
  estimate by the actual cost; `release` and `abandon` take the estimate back.
- every allowed acquire is held under its reservation token until `settle`, `release` or
  `abandon` ends it (or `hold_s` passes). `abandon` ends a reservation whose verdict the caller
  never read (a timeout, a cancelled request): it undoes what the acquire took if it ran, and
  when it has not run yet (it waits in a stalled Redis) it makes it reserve nothing when it runs.
  So an acquire the gateway gave up on never holds a slot, a token or a budget for long, and its
  request is not counted in the shared limits, whether the gateway then refused it
  (`on_redis_error = "fail_closed"`) or served it on its own in-process limits ("fail_open").
  One exception, where it cannot matter: the memory backend does not remember an rpm-only
  acquire (see `reservations.is_marked`), but its acquires are decided before they return, so
  nobody ever gives up on one.

Call semantics, identical in both backends (what a backend does to be fast stays inside it):

- `begin_acquire` checks and reserves all or nothing, and reads breakers in the same round trip;
  the command is sent when it returns (once connected; a client may write it at the end of the
  loop's turn, with the other calls of that turn), and the caller awaits the verdict when it
  needs it, doing other work meanwhile. `acquire` is the same, awaited at once.
- `start_settle` writes settlements before it returns (None when already applied, else a future
  for the outcome); `settle` is the same, awaited, and also connects when it must. A failed
  settlement applied nothing: settle it again.
- `release` undoes a reservation whose call never happened; `abandon` one whose verdict was
  never read (see above).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

from gateway.state.breaker_state import BreakerState
from gateway.state.prepared import PreparedChecks, WindowFigures

LimitKind = Literal["rpm", "tpm", "concurrent", "budget_day", "budget_month"]
WINDOW_KINDS: frozenset[str] = frozenset({"rpm", "tpm"})
BUDGET_KINDS: frozenset[str] = frozenset({"budget_day", "budget_month"})

WINDOW_S = 60.0
# How long a reservation is held when the caller names no deadline (`hold_s`): what a slot
# outlives a replica that never settled it. The limiter passes the request's own deadline.
SLOT_TTL_S = 600.0
# The retry hint for a full concurrency limit: slots free when requests finish, not on a clock.
CONCURRENT_RETRY_S = 1.0
# How long after its first send a settlement may be sent again (a lost reply, Redis away): the
# Redis receipt that makes a retry apply nothing outlives it (`redis/keys.py`). An older one is
# dropped, not sent (`redis/settle_calls.py`), and its callers stop retrying it.
SETTLE_RETRY_MAX_AGE_S = 270.0
# The most semantic cache vectors one `read_shared_vectors` returns.
SHARED_VECTORS_PAGE = 200


_TOKEN_PREFIX = secrets.token_hex(6)
_token_counter = itertools.count(1)


def new_token() -> str:
    """A reservation token unique across processes and replicas (random prefix, counter)."""
    return f"{_TOKEN_PREFIX}{next(_token_counter):x}"


class StateUnavailable(Exception):
    """The backend (Redis) cannot serve this call: raised by every redis method on connection
    errors, timeouts and error replies alike (OOM, NOAUTH, READONLY...), never anything else.
    Callers decide to fail open or closed. `kind` is a bounded label for
    `gateway_state_errors_total{kind}`: "connection", "timeout", "down" (refused at once while
    the client reconnects) or the error reply's code in lower case ("oom", "noauth", ...,
    "error_reply" for codes outside the known set)."""

    def __init__(self, message: str, kind: str = "connection") -> None:
        super().__init__(message)
        self.kind = kind


# The values made per request (checks, results, reservations, settlements) are slotted
# dataclasses, not frozen ones: a frozen dataclass sets each field through object.__setattr__,
# which made building one ~3.5x dearer (0.56 vs 0.15 us; a request with limits builds about a
# dozen). Nothing changes them once built: treat them as immutable.
@dataclass(slots=True)
class LimitCheck:
    scope: str  # bounded label for metrics and messages: "key" | "team" | "model" | "deployment"
    subject: str  # e.g. the key id, team name, model name
    kind: LimitKind
    limit: float  # requests/min, tokens/min, slots, or USD
    # What this request reserves: 1 for rpm/concurrent, estimated tokens for tpm, the estimated
    # cost in USD for budgets.
    amount: float


@dataclass(slots=True)
class CheckResult:
    check: LimitCheck
    allowed: bool
    remaining: float  # after this request's reservation (if allowed), never negative
    # Refused: seconds until the window frees enough (or the budget period ends).
    # Allowed: seconds until the oldest usage leaves the window (budgets: until the period ends).
    reset_s: float


@dataclass(slots=True)
class Reservation:
    token: str  # opaque id for settle()
    checks: tuple[LimitCheck, ...]
    at: float  # `now` of the acquire
    hold_s: float = SLOT_TTL_S  # held until `at + hold_s` at the latest (the acquire's `hold_s`)


class UnreadResults:
    """An allowed acquire's per-check results left unparsed (a backend that got them as a
    reply): called, it makes them all; `figures(at)` reads one check's alone. (Any other
    function that makes them may stand for them too; only this one reads one check alone.)"""

    __slots__ = ()

    def __call__(self) -> tuple[CheckResult, ...]:
        raise NotImplementedError

    def figures(self, at: int) -> WindowFigures:
        """(limit, remaining, reset_s) of check `at`, as its `CheckResult` would say."""
        raise NotImplementedError


@dataclass(slots=True)
class AcquireResult:
    allowed: bool
    # The per-check results, or what makes them when `results` is first read (a backend may
    # leave an allowed reply's numbers unparsed until someone asks for them).
    parts: tuple[CheckResult, ...] | UnreadResults | Callable[[], tuple[CheckResult, ...]]
    reservation: Reservation | None  # None when refused: nothing was reserved at all
    retry_after_s: float = 0.0  # max reset among refused checks (0 when allowed)
    # The breakers asked for in `acquire(..., breakers=)`, read in the same round trip.
    breakers: Mapping[str, BreakerState] = field(default_factory=dict)

    @property
    def results(self) -> tuple[CheckResult, ...]:
        """The per-check results (made from `parts` on the first read, then kept)."""
        parts = self.parts
        if callable(parts):
            self.parts = parts = parts()
        return parts

    @property
    def refused(self) -> CheckResult | None:
        """The first refused check, if any."""
        return next((result for result in self.results if not result.allowed), None)


@dataclass(slots=True)
class Settlement:
    reservation: Reservation
    # Replaces the tpm reservation amount, in the window bucket the reservation went to.
    actual_tokens: int
    # Replaces each budget check's reserved amount (in the period the reservation went to), and
    # is added to the spend of `spend_subjects` (and to every subject's all-time total).
    cost_usd: float
    # Extra (scope, subject) pairs whose spend to add even without a budget check.
    spend_subjects: tuple[tuple[str, str], ...] = ()
    # Set by a backend that writes it remotely (Redis) when it first sends it: the id under
    # which the write is applied at most once, however often it is sent again (a reply lost
    # after Redis ran it, then a retry). Empty until sent.
    receipt: str = ""
    # `now` of the first send (with the receipt): a retry is only sent while the receipt lives.
    sent_at: float = 0.0


class StateBackend(Protocol):
    name: str  # "memory" | "redis"
    # Whether `prepare` may prepare checks at all (False: it always answers None, and a caller
    # need not ask it, or look up what it answered before, on every request).
    prepares: bool

    def begin_acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        *,
        token: str | None = None,
        hold_s: float | None = None,
        shape: object = None,
    ) -> Awaitable[AcquireResult]:
        """Start the check-and-reserve: with Redis the command is sent before this returns (no
        await; written at the latest at the end of this turn of the loop), so the caller can do
        other work while Redis runs it; await the result
        later, exactly once. Awaiting raises StateUnavailable as `acquire` does (also when the
        command could not even be sent). With nothing to wait for (memory) the awaitable is
        already complete: the reservation is made before this returns."""
        ...

    async def acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        *,
        token: str | None = None,
        hold_s: float | None = None,
        shape: object = None,
    ) -> AcquireResult:
        """Check and reserve every limit at once: all checks pass and are reserved, or nothing is.
        Also reads the state of the `breakers` deployments (as `breaker_states` would), in the
        same round trip, so a request with limits needs no other call before the upstream.
        The same as awaiting `begin_acquire` at once.

        `token` names the reservation (a fresh `new_token()` when None): a caller that may give
        up waiting names it, so it can `abandon` it. An acquire whose token was abandoned before
        it ran reserves nothing and is refused. What it holds expires `hold_s` after `now` (pass
        the request's deadline plus a grace; None: the backend's default, `SLOT_TTL_S`).

        `shape`, when not None, stands for the checks' shape: every acquire given the same
        object (the very one) has checks of the same kinds, scopes, subjects and limits in the
        same order, only their amounts differ (a plan's, `LimitPlan.sorting`). A backend may
        keep what it works out of the checks under it (Redis: the call's encoding)."""
        ...

    def prepare(self, checks: Sequence[LimitCheck]) -> PreparedChecks | None:
        """`checks` (a plan's: the same on every request but for the tpm amounts) bound to
        this backend's counters once, for the fast path of `gateway.state.prepared`; None when
        the backend has none, or cannot prepare these checks: use `acquire`."""
        ...

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        """After the call: free concurrency slots, reconcile tpm, add spend. One round trip."""
        ...

    def start_settle(
        self, settlements: Sequence[Settlement], now: float
    ) -> asyncio.Future[None] | None:
        """`settle` begun without an await: the write leaves before this returns. None when it
        is already done (in-process state); else a future that ends when it is applied, or
        with StateUnavailable (nothing was applied: settle them again). Raises StateUnavailable
        when it cannot even be sent now (no connection): use `settle`."""
        ...

    async def release(self, reservation: Reservation, now: float) -> None:
        """The call never happened: undo everything the reservation took."""
        ...

    async def abandon(self, reservations: Sequence[Reservation], now: float) -> None:
        """The caller gave up on these acquires without reading their verdicts (a timeout, a
        cancelled request): undo what each took if it ran and was allowed; if it has not run yet,
        it reserves nothing when it does (the token is remembered for `hold_s`). Idempotent; a
        reservation settled or released before is left alone. One round trip for all."""
        ...

    async def spend(self, scope: str, subject: str, now: float) -> dict[str, float]:
        """USD spent: {"day", "month", "total"} for the UTC day and month of `now`."""
        ...

    async def usage(self, scope: str, subject: str, now: float) -> dict[str, float]:
        """{"requests_1m", "tokens_1m", "concurrent"} for admin views."""
        ...

    async def get(self, key: str, now: float) -> bytes | None:
        """The cached value, unless its expiry (from `now` at set time) is <= `now`."""
        ...

    async def set(self, key: str, value: bytes, ttl_s: float, now: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def remember(self, key: str, value: bytes, ttl_s: float, now: float) -> None:
        """Keep `value` under `key` until `now + ttl_s`: what must outlive the cache's eviction
        (which deployment made a Responses API response, a translated conversation). Apart
        from the cache: cache pressure never drops it, and clearing the cache keeps it."""
        ...

    async def recall(self, key: str, now: float) -> bytes | None:
        """The value remembered under `key`, unless it expired (expiry <= `now`)."""
        ...

    async def forget(self, key: str) -> None: ...

    async def share_vector(self, entry: bytes, ttl_s: float) -> None:
        """Keep a semantic cache vector (`entry`: the cache's bytes) for the other processes on
        this state to read, `ttl_s` at most (its cache entry's); memory shares with no one."""
        ...

    async def read_shared_vectors(self, after: str | None) -> tuple[list[bytes], str | None]:
        """The vectors shared since the cursor `after` (None: from the oldest kept), oldest
        first, at most `SHARED_VECTORS_PAGE` (a full page: there may be more), and the cursor
        for the next read. Memory: none, and `after` back."""
        ...

    async def breaker_record(
        self,
        deployment: str,
        ok: bool,
        now: float,
        failure_threshold: int,
        window_s: float,
        cooldown_s: float,
    ) -> BreakerState:
        """Record a call outcome; `failure_threshold` failures within `window_s` open the breaker
        for `cooldown_s`. A success closes a closed or half-open breaker and clears its failures;
        a failure while half-open opens it again."""
        ...

    async def breaker_states(
        self, deployments: Sequence[str], now: float
    ) -> dict[str, BreakerState]:
        """The state of many breakers in one round trip."""
        ...

    async def breaker_try_probe(self, deployment: str, now: float, probe_timeout_s: float) -> bool:
        """May a request go to this deployment? True when closed; when half-open, True for exactly
        one caller (across replicas) until an outcome is recorded or `probe_timeout_s` passes."""
        ...

    async def ping(self) -> bool: ...

    async def warnings(self) -> list[str]:
        """Setup problems worth a warning at start (Redis: a policy that may evict its keys)."""
        ...

    async def aclose(self) -> None: ...


T = TypeVar("T")


class Ready(Generic[T]):
    """An awaitable whose value is already there: awaiting it returns the value at once, with
    no task, future or event loop (what `MemoryState.begin_acquire` returns)."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[None, None, T]:
        return self.value
        yield  # never reached: it makes this a generator, which `await` drives
