"""Dropping the idle entries of a large dict a few at a time, never by walking it whole.

`MemoryState` keeps one window (and slots) per subject it has seen: with `[user_limits]`, one
per end user. Walking all of them at every prune stalled the event loop (100,000 end users:
71 ms every 10 s, 187 ms when they all left). Instead each entry is logged when it is made;
an entry logged `every_s` ago or more is looked at (`sweep`): dropped when idle, else logged
again. So an entry is looked at about once per `every_s` however many there are, and one call
looks at `batch` entries at most (about half a millisecond); `sweep` says when more are due, so
the caller comes back soon instead of waiting for its next period.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Entries one `sweep` looks at, at most.
SWEEP_BATCH = 1024


class Sweep(Generic[K, V]):
    """The entries of one dict, in the order they were made or last looked at."""

    def __init__(self, every_s: float, batch: int = SWEEP_BATCH) -> None:
        self.every_s = every_s
        self.batch = batch
        # (when it was made or last looked at, its key, the entry itself): an entry replaced
        # under the same key since is not the one logged, and is looked at by its own line.
        self._log: deque[tuple[float, K, V]] = deque()

    def __len__(self) -> int:
        return len(self._log)

    def made(self, now: float, key: K, value: V) -> None:
        self._log.append((now, key, value))

    def sweep(self, table: dict[K, V], now: float, idle: Callable[[V], bool]) -> bool:
        """Look at the entries of `table` logged `every_s` ago or more, `batch` at the most:
        drop those `idle` says, log the others again. True when more are due already."""
        log = self._log
        cutoff = now - self.every_s
        for _ in range(self.batch):
            if not log or log[0][0] > cutoff:
                return False
            _, key, value = log.popleft()
            if table.get(key) is not value:
                continue  # dropped already, or replaced by an entry of its own
            if idle(value):
                del table[key]
            else:
                log.append((now, key, value))
        return bool(log) and log[0][0] <= cutoff
