"""AbandonedAcquires: past its cap the oldest go (at a constant cost per add), and they are sent
in batches, oldest first, kept while the state backend refuses."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from gateway.limits import abandoned
from gateway.limits.abandoned import AbandonedAcquires
from gateway.state import MemoryState, Reservation, StateUnavailable


class Recording(MemoryState):
    """A state whose abandon records its batches, or refuses them all."""

    def __init__(self, refuse: bool = False) -> None:
        super().__init__()
        self.refuse = refuse
        self.batches: list[list[str]] = []

    async def abandon(self, reservations: Sequence[Reservation], now: float) -> None:
        if self.refuse:
            raise StateUnavailable("redis: down", "down")
        self.batches.append([r.token for r in reservations])


def reservation(n: int) -> Reservation:
    return Reservation(f"t{n}", (), 0.0, 1.0)


async def test_past_the_cap_the_oldest_go() -> None:
    kept = AbandonedAcquires(keep=3)
    for n in range(5):
        kept.add(reservation(n))
    state = Recording()
    assert await kept.send(state, 0.0, lambda error: None)
    assert state.batches == [["t2", "t3", "t4"]] and len(kept) == 0


async def test_sent_in_batches_and_kept_while_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(abandoned, "ABANDON_BATCH", 2)
    kept = AbandonedAcquires()
    for n in range(5):
        kept.add(reservation(n))
    told: list[str] = []
    refusing = Recording(refuse=True)
    assert not await kept.send(refusing, 0.0, lambda error: told.append(error.kind))
    assert told == ["down"] and len(kept) == 5
    state = Recording()
    assert await kept.send(state, 0.0, lambda error: None)
    assert state.batches == [["t0", "t1"], ["t2", "t3"], ["t4"]] and len(kept) == 0
