"""The settlement writes the limiter starts on the request path, without an await
(`StateBackend.start_settle`: on Redis they leave at the end of the current turn of the event
loop), so they reach the state backend before the client's next request can acquire:

- `now`: one request's write, started at once rather than queued behind a write in flight (the
  slots it frees must be free by the time the client has its answer: `Limiter.free_slots`,
  `Limiter.settle_before_last_byte`);
- `add`: written at once when no batched write is in flight; else it waits, and the
  settlements that arrived meanwhile leave together when that write completes, so the batch
  size follows the load (`Limiter.settle`).

A write that cannot start, or fails, is handed back (`failed`) to the limiter's flusher task,
which retries it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from gateway.state import Settlement, StateBackend, StateUnavailable

log = logging.getLogger("gateway.limits")

Failed = Callable[[StateBackend, list[Settlement]], None]


class StartedWrites:
    def __init__(
        self,
        clock: Callable[[], float],
        failed: Failed,
        count_error: Callable[[StateUnavailable], None],
    ) -> None:
        self._clock = clock
        self._failed = failed
        self._count_error = count_error
        self.queue: list[tuple[Settlement, StateBackend]] = []  # waiting for `sending`
        self.sending: set[asyncio.Future[None]] = set()  # batched writes in flight
        self.freeing: set[asyncio.Future[None]] = set()  # `now` writes in flight
        # The latest `now` write's future, and the settlements its callback answers for.
        self._joined: asyncio.Future[None] | None = None
        self._joining: list[Settlement] = []

    def now(self, backend: StateBackend, settlement: Settlement) -> None:
        """Start writing one settlement now, whatever is in flight."""
        try:
            pending = backend.start_settle([settlement], self._clock())
        except StateUnavailable:
            self._failed(backend, [settlement])
            return
        if pending is None:
            return
        # Redis joins the settlements started in one turn of the loop into one call, and they
        # share its future: one done-callback for them all, not one per settlement (~40
        # interpreter opcodes each at c = 64, where a turn ends a dozen answers or more).
        if pending is self._joined:
            self._joining.append(settlement)
            return
        self.freeing.add(pending)
        self._joined, self._joining = pending, [settlement]
        pending.add_done_callback(functools.partial(self._freed, backend, self._joining))

    def _freed(
        self, backend: StateBackend, settlements: list[Settlement], pending: asyncio.Future[None]
    ) -> None:
        if self._joined is pending:  # a settlement started from now on needs a callback of its own
            self._joined = None
        self.freeing.discard(pending)
        error = pending.exception() if not pending.cancelled() else StateUnavailable("cancelled")
        if error is None:
            return
        for settlement in settlements:  # each counted and retried, as when each had a callback
            if isinstance(error, StateUnavailable):
                self._count_error(error)
                self._failed(backend, [settlement])
            else:
                log.error("cannot free a concurrency slot: %s", error)

    def add(self, settlement: Settlement, backend: StateBackend) -> None:
        self.queue.append((settlement, backend))
        self.send()

    def take(self) -> list[tuple[Settlement, StateBackend]]:
        """The queued settlements, no longer queued (for the flusher to write)."""
        batch, self.queue = self.queue, []
        return batch

    def send(self) -> None:
        """Start writing the queued settlements now, unless a batched write is in flight."""
        if self.sending or not self.queue:
            return
        batch, self.queue = self.queue, []
        now = self._clock()
        first = batch[0][1]
        if len(batch) == 1:
            groups = [(first, [batch[0][0]])]
        elif all(b is first for _, b in batch):  # one backend, nearly always
            groups = [(first, [s for s, _ in batch])]
        else:
            backends = {id(b): b for _, b in batch}.values()
            groups = [(backend, [s for s, b in batch if b is backend]) for backend in backends]
        for backend, settlements in groups:
            try:
                pending = backend.start_settle(settlements, now)
            except StateUnavailable:
                self._failed(backend, settlements)
                continue
            except Exception:
                log.exception("cannot settle %d requests", len(settlements))
                continue
            if pending is not None:
                self.sending.add(pending)
                pending.add_done_callback(functools.partial(self._sent, backend, settlements))

    def _sent(
        self, backend: StateBackend, settlements: list[Settlement], pending: asyncio.Future[None]
    ) -> None:
        self.sending.discard(pending)
        error = pending.exception() if not pending.cancelled() else StateUnavailable("cancelled")
        if isinstance(error, StateUnavailable):
            self._count_error(error)
            self._failed(backend, settlements)
        elif error is not None:
            log.error("cannot settle %d requests: %s", len(settlements), error)
        self.send()
