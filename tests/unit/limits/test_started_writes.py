"""`StartedWrites.now`: the settlements a backend joins into one write (Redis: those started in
one turn of the loop) share one done-callback, and each is still counted and retried when that
write fails."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from typing import Self, cast

from gateway.limits.started_writes import StartedWrites
from gateway.state import Reservation, Settlement, StateBackend, StateUnavailable


class _CountedFuture(asyncio.Future[None]):
    def __init__(self) -> None:
        super().__init__()
        self.callbacks = 0

    def add_done_callback(
        self,
        fn: Callable[[Self], object],
        /,
        *,
        context: contextvars.Context | None = None,
    ) -> None:
        self.callbacks += 1
        super().add_done_callback(fn, context=context)


class _OneWritePerTurn:
    """Joins the settlements started until its write completes into that write, as
    `RedisState.start_settle` does those of one turn (the only method `StartedWrites.now`
    calls)."""

    def __init__(self, *, reuse_completed: bool = False) -> None:
        self.written: list[_CountedFuture] = []
        self.reuse_completed = reuse_completed

    def start_settle(self, settlements: Sequence[Settlement], now: float) -> asyncio.Future[None]:
        if not self.written or (self.written[-1].done() and not self.reuse_completed):
            self.written.append(_CountedFuture())
        return self.written[-1]

    def as_backend(self) -> StateBackend:
        return cast(StateBackend, self)


async def _completed(write: asyncio.Future[None]) -> None:
    """Once `write` completed and the callbacks added before this one (`StartedWrites._freed`)
    ran: a future's callbacks run in the order they were added."""
    after = asyncio.get_running_loop().create_future()
    write.add_done_callback(lambda _: after.set_result(None))
    await after


def _settlement(token: str) -> Settlement:
    return Settlement(Reservation(token, (), 0.0), 0, 0.0)


async def test_the_settlements_of_one_write_share_its_callback_and_each_is_retried() -> None:
    failed: list[Settlement] = []
    errors: list[StateUnavailable] = []

    def retry(backend: StateBackend, settlements: list[Settlement]) -> None:
        failed.extend(settlements)

    writes = StartedWrites(lambda: 0.0, retry, errors.append)
    backend = _OneWritePerTurn()
    settlements = [_settlement(f"t{i}") for i in range(3)]
    for settlement in settlements:
        writes.now(backend.as_backend(), settlement)
    [write] = backend.written
    assert write.callbacks == 1
    assert writes.freeing == {write}
    write.set_exception(StateUnavailable("reset", "connection"))
    await _completed(write)
    assert failed == settlements
    assert len(errors) == 3  # counted once per settlement, as before
    assert not writes.freeing


async def test_a_settlement_handed_a_write_that_completed_gets_a_callback_of_its_own() -> None:
    """A backend may hand out a completed write again (this one does while it is the latest):
    its callback ran already, so the settlement needs one of its own to be retried."""
    failed: list[Settlement] = []

    def retry(backend: StateBackend, settlements: list[Settlement]) -> None:
        failed.extend(settlements)

    writes = StartedWrites(lambda: 0.0, retry, lambda error: None)
    backend = _OneWritePerTurn(reuse_completed=True)
    first = _settlement("a")
    writes.now(backend.as_backend(), first)
    [write] = backend.written
    write.set_exception(StateUnavailable("reset", "connection"))
    await _completed(write)
    late = _settlement("b")
    writes.now(backend.as_backend(), late)
    assert backend.written == [write]
    await _completed(write)
    assert failed == [first, late]
