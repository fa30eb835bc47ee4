"""Rate limits, concurrency caps and budgets from the key's policy, over the state backend.

Before the call, `Limiter.acquire` checks and reserves everything that applies in one state
round trip (all or nothing; in process the usual plan takes `acquire_prepared`, the fast path
of `gateway.limits.prepared_plans`), and in the same round trip reads the breakers of the
model's deployments, which the router's first attempt then uses instead of reading them. The
reservation is named by a token the limiter picks and held until the request's deadline (plus
`HOLD_GRACE_S`) at the latest; an acquire it gave up on (Redis did not answer in time, or the
request was cancelled while it waited) is abandoned by that token, from the flusher task, as
soon as the state backend answers again, so a stall of any length leaves no slot, tokens or
budget held (`StateBackend.abandon`).

Just before the response's last byte is sent, `Limiter.free_slots` frees the request's
concurrency slots (started at once, not queued behind a settlement in flight), so a client that
sends its next request as soon as it has the answer finds the slot free. In memory that is
immediate; on Redis the write leaves at the end of the current turn of the event loop, in one
write with the turn's other Redis calls: after the last byte's `send` but before any request
this process reads next can acquire (they run in later turns, on the same connection), and
microseconds before another replica could see the client's next request.

After the request ends, whatever path it took, `Limiter.settle` splits what is left to do in
two:

- what other requests' checks read at once (release the concurrency slot, reconcile the tokens
  reserved for tpm, add the cost to the subjects whose budgets this request checked) is started
  before `settle` returns (`StateBackend.start_settle`: no await; on Redis it leaves at the end
  of this turn of the loop), so it reaches Redis before the client's next request can acquire;
  settlements that arrive while such a write is in flight leave together when it completes, and
  a write that fails is retried by the flusher task;
- the rest of the spend (subjects without a budget on this request: the key and team counters
  that admin views read) is summed per subject and written every `SPEND_FLUSH_S`, one round trip
  for all of it instead of one per request (`gateway.limits.summed_spend`).

Neither waits for Redis on the request path (the writes started there are
`gateway.limits.started_writes`), and both are flushed at shutdown, so no spend is lost. What
the checks are is decided by the pure `gateway.limits.plan`.

When the state backend (Redis) is unreachable, `on_redis_error = "fail_open"` serves on limits
kept in this process (warned and counted), `"fail_closed"` answers 503. Spend that cannot be
written is kept and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from gateway.config.types import ModelConfig
from gateway.errors import ServiceUnavailable
from gateway.limits.abandoned import AbandonedAcquires
from gateway.limits.fallback_held import FallbackHeld
from gateway.limits.held import Held
from gateway.limits.plan import LimitPlan, rate_limited
from gateway.limits.prepared_plans import PreparedHeld, PreparedPlans
from gateway.limits.sorting import Sorting
from gateway.limits.started_writes import StartedWrites
from gateway.limits.summed_spend import SummedSpend
from gateway.observability.metrics import Metrics
from gateway.state import (
    SLOT_TTL_S,
    LimitCheck,
    MemoryState,
    Reservation,
    Settlement,
    StateBackend,
    StateUnavailable,
    new_token,
    retry_too_late,
)

log = logging.getLogger("gateway.limits")
FLUSH_RETRY_S = 0.5
# How long past the request's deadline its reservation is held, at the latest: the settlement
# goes out right after the deadline, so this only matters for a replica that died.
HOLD_GRACE_S = 5.0


class Limiter:
    def __init__(
        self,
        state: StateBackend,
        metrics: Metrics,
        on_error: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.local = MemoryState()
        self.metrics = metrics
        self.on_error = on_error
        self.clock = clock
        # The settlement writes started on the request path (`now` and batched).
        self._writes = StartedWrites(self.clock, self._retry, self._count_state_error)
        self._retrying: list[tuple[Settlement, StateBackend]] = []  # for the flusher task
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._last_warning = 0.0
        # Spend no budget of its request depends on, summed per (scope, subject) until written.
        self._spend = SummedSpend(self._spend_due)
        self._spend_flush_wanted = False
        # Acquires given up on, to abandon once the state backend answers (the flusher's job).
        self._abandoned = AbandonedAcquires()
        self._prepared = PreparedPlans()

    def acquire_prepared(
        self, plan: LimitPlan, tokens: int, model: ModelConfig, deadline_s: float
    ) -> PreparedHeld | None:
        """`acquire` on the plan's prepared checks (`gateway.limits.prepared_plans`); None when
        there are none (Redis) or the limits refuse: then `acquire` (which refuses properly)."""
        state = self.state
        if not state.prepares:  # (Redis) without looking up the plan: ~30 opcodes a request
            return None
        checks = self._prepared.checks_for(state, plan)
        if checks is None:
            return None
        hold_s = deadline_s + HOLD_GRACE_S
        hold = checks.acquire(tokens, self.clock(), hold_s, model.deployment_names)
        return PreparedHeld(checks, hold) if hold is not None else None

    async def acquire(
        self,
        checks: list[LimitCheck],
        model: ModelConfig | None = None,
        deadline_s: float | None = None,
        sorting: Sorting | None = None,
    ) -> Held | None:
        """Reserve everything or raise RateLimited (with the rate headers); returns what to
        settle. With `model`, its deployments' breakers are read in the same round trip
        (`Held.breakers`). `deadline_s`: how long the request may still run (its reservation
        is held that long plus `HOLD_GRACE_S`, at the latest). `sorting`: how `checks` sort,
        when the plan knows it already (`LimitPlan.sorting`)."""
        now = self.clock()
        names = model.deployment_names if model is not None else ()
        backend = self.state
        token = new_token()
        hold_s = deadline_s + HOLD_GRACE_S if deadline_s is not None else None
        try:
            result = await backend.acquire(
                checks, now, names, token=token, hold_s=hold_s, shape=sorting
            )
        except BaseException as error:
            if not isinstance(error, StateUnavailable | asyncio.CancelledError):
                raise
            # Given up on: it may have run, or may still run (a stalled Redis): abandon it.
            self._abandon(Reservation(token, tuple(checks), now, hold_s or SLOT_TTL_S))
            if isinstance(error, asyncio.CancelledError):
                raise
            self._count_state_error(error)
            if self.on_error == "fail_closed":
                raise ServiceUnavailable(
                    f"rate-limit state is unavailable ({error.kind}) and on_redis_error = "
                    "'fail_closed'; try again shortly"
                ) from None
            # fail_open: the limits kept in this process, which know no breakers (the router
            # reads them, and finds the state unavailable, as usual).
            backend = self.local
            result = await backend.acquire(checks, now, hold_s=hold_s)  # no breakers read
        if not result.allowed or result.reservation is None:
            refused = result.refused
            assert refused is not None
            self.metrics.ratelimit_rejections.labels(
                f"{refused.check.scope}_{refused.check.kind}"
            ).inc()
            raise rate_limited(result, refused)
        return Held(result.reservation, backend, result, result.breakers or None, sorting)

    def _abandon(self, reservation: Reservation) -> None:
        self._abandoned.add(reservation)
        self._wakeup.set()

    def free_slots(self, held: Held | PreparedHeld | FallbackHeld | None) -> None:
        """Free the request's concurrency slots now, before its answer's last byte is sent:
        started before this returns (not queued behind a settlement in flight; on Redis written
        at the end of this turn of the loop, see the module docstring), so the slot is free
        before the client's next request can acquire. Tokens and spend are
        settled later (`settle`). Returns at once; a write that fails is retried."""
        if isinstance(held, PreparedHeld):
            held.free_slots()
            return
        if isinstance(held, FallbackHeld):  # a request that fell back: each reservation's
            held.slots_freed = True
            for part in held.parts:
                self.free_slots(part)
            return
        if held is None or held.slots_freed or not held.slots:
            return
        held.slots_freed = True
        reservation = held.reservation
        freed = Reservation(reservation.token, held.slots, reservation.at, reservation.hold_s)
        self._writes.now(held.backend, Settlement(freed, 0, 0.0))

    def _count_state_error(self, error: StateUnavailable) -> None:
        self.metrics.state_error(error.kind)
        now = time.monotonic()
        if now - self._last_warning > 10:
            self._last_warning = now
            log.warning("state backend unavailable; on_redis_error=%s", self.on_error)

    def settle(
        self,
        held: Held | PreparedHeld | FallbackHeld | None,
        actual_tokens: int,
        cost_usd: float,
        spend_subjects: tuple[tuple[str, str], ...],
    ) -> None:
        """Queue what the request leaves to do; returns at once (the flushers send it).
        Nothing when `settle_before_last_byte` settled it already."""
        if held is not None:  # (None: no limits, only spend)
            if held.settled_cost is not None:  # by `settle_before_last_byte`
                return
            if isinstance(held, PreparedHeld):  # settled in process, before this returns
                held.settle(actual_tokens)
            elif isinstance(held, FallbackHeld):  # each reservation, the spend counted once
                for part, subjects in held.spending(spend_subjects):
                    self.settle(part, actual_tokens, cost_usd, subjects)
                return
            else:
                reservation = held.reservation
                marked = held.marked  # remembered under its token (not rpm only): settle it
                if held.slots_freed:
                    reservation = Reservation(
                        reservation.token, held.rest, reservation.at, reservation.hold_s
                    )
                    marked = held.rest_marked
                if marked:
                    # Slots, tokens and budget reservations: other requests read them now.
                    settlement = Settlement(reservation, actual_tokens, cost_usd)
                    self._writes.add(settlement, held.backend)
        self._add_spend(cost_usd, spend_subjects, held)

    def _add_spend(
        self,
        cost_usd: float,
        spend_subjects: tuple[tuple[str, str], ...],
        held: Held | PreparedHeld | None,
    ) -> None:
        """Sum the spend of subjects whose budget the request did not check (those settle with
        its reservation), for the next spend write. A request held in this process
        (`fail_open` while Redis was away) settles its budgets here only: its whole cost then
        goes with the summed spend, to reach Redis too."""
        budgeted = held.budgeted if isinstance(held, Held) and held.backend is self.state else None
        self._spend.add(cost_usd, spend_subjects, budgeted, timed=self._flusher is not None)

    def settle_before_last_byte(
        self,
        held: Held | PreparedHeld | FallbackHeld,
        actual_tokens: int,
        cost_usd: float,
        spend_subjects: tuple[tuple[str, str], ...],
    ) -> None:
        """`free_slots` and `settle` in one: when the usage is known before the answer's last
        byte, the slots, tokens and budgets are settled in one write started before this
        returns (as `free_slots`'s), instead of two; the later `settle` then does nothing."""
        if held.slots_freed:  # by `free_slots`, or settled here already (which frees them)
            return
        if isinstance(held, PreparedHeld):  # in process: nothing to write
            held.settle(actual_tokens)
        elif isinstance(held, FallbackHeld):
            for part, subjects in held.spending(spend_subjects):
                self.settle_before_last_byte(part, actual_tokens, cost_usd, subjects)
            held.slots_freed = True
            held.settled_cost = cost_usd
            return
        else:
            held.slots_freed = True
            self._writes.now(held.backend, Settlement(held.reservation, actual_tokens, cost_usd))
        held.settled_cost = cost_usd
        self._add_spend(cost_usd, spend_subjects, held)

    def _retry(self, backend: StateBackend, settlements: list[Settlement]) -> None:
        """Hand settlements to the flusher task (it awaits, counts the error and retries)."""
        self._retrying.extend((s, backend) for s in settlements)
        self._wakeup.set()

    def _spend_due(self) -> None:
        self._spend_flush_wanted = True
        self._wakeup.set()

    def start(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        # Settlements that arrive while a flush is in flight form the next batch, so the
        # batch size follows the load and a concurrency slot is never held longer than needed.
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            spend_due, self._spend_flush_wanted = self._spend_flush_wanted, False
            abandon_failed = not await self._flush_abandoned()
            await self._flush_settlements()
            spend_failed = spend_due and not await self._flush_spend()
            # Only a refusal waits before the retry. (Settlements or spend that merely arrived
            # during the writes are not failures: they go at once, or on the spend timer.)
            if self._retrying or spend_failed or abandon_failed:
                await asyncio.sleep(FLUSH_RETRY_S)  # the state backend refused: do not spin
                self._spend_flush_wanted = spend_failed or self._spend_flush_wanted
                self._wakeup.set()

    async def flush(self) -> None:
        """Send everything queued now: abandoned acquires, settlements, the summed spend."""
        await self._flush_abandoned()
        await self._flush_settlements()
        await self._flush_spend()

    async def _flush_abandoned(self) -> bool:
        """Abandon the acquires given up on; False when the state backend refused (kept)."""
        return await self._abandoned.send(self.state, self.clock(), self._count_state_error)

    async def _flush_settlements(self) -> None:
        batch, self._retrying = [*self._retrying, *self._writes.take()], []
        if not batch:
            return
        now = self.clock()
        for backend in {id(b): b for _, b in batch}.values():
            settlements = [s for s, b in batch if b is backend]
            try:
                await backend.settle(settlements, now)
            except StateUnavailable as exc:
                self._count_state_error(exc)
                # Kept for the next round, spend must not be lost while Redis is away; but for
                # those too late to apply once, which the backend dropped (and logged).
                kept = [s for s in settlements if not retry_too_late(s, now)]
                self._retrying.extend((s, backend) for s in kept)
            except Exception:
                log.exception("cannot settle %d requests", len(settlements))

    async def _flush_spend(self) -> bool:
        """Write the summed spend; False when the state backend refused it (it is kept)."""
        return await self._spend.write(self.state, self.clock(), self._count_state_error)

    async def aclose(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self._spend.cancel()
        writes = self._writes
        if writes.sending or writes.freeing:  # in flight: a failed one comes back in `_retrying`
            await asyncio.wait([*writes.sending, *writes.freeing])
        for _ in range(3):
            await self.flush()
            if not self._retrying and not writes.queue and not self._spend and not self._abandoned:
                break
        left = len(self._retrying) + len(writes.queue)
        if left or self._spend or self._abandoned:
            log.error(
                "%d settlements, %d abandoned acquires and the spend of %d subjects could not "
                "be written at shutdown",
                left,
                len(self._abandoned),
                len(self._spend),
            )
