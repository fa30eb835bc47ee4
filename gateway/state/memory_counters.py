"""The counters of the in-process state backend (`MemoryState`, which inherits them): the rpm
and tpm windows, the concurrency slots, the spend, the tokens held; made when first met, kept
up (a periodic prune, idle ones swept a batch at a time) and read."""

from __future__ import annotations

import math
from collections.abc import Sequence, Sized

from gateway.state.base import WINDOW_S, LimitCheck
from gateway.state.memory_slots import Slots
from gateway.state.memory_spend import SpendBook
from gateway.state.sweep import Sweep
from gateway.state.windows import SlidingWindow

Subject = tuple[str, str]  # (scope, subject)
Counter = tuple[str, str, str]  # (kind, scope, subject)
# How often (in `now` seconds) the held and abandoned tokens past their hold are forgotten.
_PRUNE_EVERY_S = 10.0
# What one check of an acquire reserves on: a window, slots, or (a budget) the subject's spend.
Usage = SlidingWindow | Slots | None


class MemoryCounters:
    """The tables of `MemoryState`'s counters and their upkeep."""

    def __init__(self) -> None:
        self._windows: dict[Counter, SlidingWindow] = {}
        self._slots: dict[Subject, Slots] = {}
        self._spend = SpendBook()
        # Tokens of allowed acquires not yet settled, released or abandoned, and of abandoned
        # acquires that had not run: token -> end of its hold.
        self._held: dict[str, float] = {}
        self._gone: dict[str, float] = {}
        self.next_prune = 0.0  # when `tick` prunes next (public: prepared plans read it)
        # Windows and slots are dropped when idle, a batch at a time (`gateway.state.sweep`):
        # a window looked at a window's length after it was made or last looked at, slots at
        # each prune's period.
        self._window_sweep: Sweep[Counter, SlidingWindow] = Sweep(WINDOW_S)
        self._slot_sweep: Sweep[Subject, Slots] = Sweep(_PRUNE_EVERY_S)
        # Moves whenever a window or slots leave their dict: prepared plans then bind again.
        self.generation = 0

    def tick(self, now: float) -> None:
        if now >= self.next_prune:
            self._prune(now)

    def window_of(self, counter: Counter, now: float) -> SlidingWindow:
        window = self._windows.get(counter)
        if window is None:
            window = self._windows[counter] = SlidingWindow()
            self._window_sweep.made(now, counter, window)
        return window

    def slots_of(self, subject: Subject, now: float) -> Slots:
        slots = self._slots.get(subject)
        if slots is None:
            slots = self._slots[subject] = Slots()
            self._slot_sweep.made(now, subject, slots)
        return slots

    def _drop_empty(self, checks: Sequence[LimitCheck], counters: Sequence[Usage]) -> None:
        """A refused acquire leaves no counter behind that it made (an empty window or slots
        of a subject seen for the first time)."""
        for check, counter in zip(checks, counters, strict=True):
            if isinstance(counter, SlidingWindow) and not counter.buckets:
                if self._windows.pop((check.kind, check.scope, check.subject), None) is not None:
                    self.generation += 1
            elif isinstance(counter, Slots) and not counter:
                if self._slots.pop((check.scope, check.subject), None) is not None:
                    self.generation += 1

    def _prune(self, now: float) -> None:
        for tokens in (self._held, self._gone):
            for token in [token for token, end in tokens.items() if end <= now]:
                del tokens[token]

        def window_idle(window: SlidingWindow) -> bool:
            window.prune(now)
            return not window.buckets

        # Emptied slots stay until their sweep: a subject whose requests come one at a time
        # would otherwise make and drop them on every request. A window whose every bucket left
        # goes too: one subject per end user would otherwise keep a window for every user ever
        # seen. (A settlement that comes later finds none and has nothing to reconcile, as when
        # only its bucket had left.) More due than one batch: the next acquire goes on.
        counters = len(self._slots) + len(self._windows)
        more = self._slot_sweep.sweep(self._slots, now, lambda slots: not slots.live(now))
        more = self._window_sweep.sweep(self._windows, now, window_idle) or more
        more = self._spend.prune(now) or more  # end users' spend (memory_spend.py)
        if len(self._slots) + len(self._windows) != counters:
            self.generation += 1
        self.next_prune = now if more else now + _PRUNE_EVERY_S

    def _live_slots(self, subject: Subject, now: float) -> int:
        slots = self._slots.get(subject)
        return slots.live(now) if slots is not None else 0

    def _free_slot(self, check: LimitCheck, token: str) -> None:
        slots = self._slots.get((check.scope, check.subject))
        if slots is not None:
            slots.free(token)
            if not slots:
                del self._slots[(check.scope, check.subject)]
                self.generation += 1

    def _adjust(self, check: LimitCheck, at: float, delta: float) -> None:
        window = self._windows.get((check.kind, check.scope, check.subject))
        if window is not None and delta:
            window.adjust(math.floor(at), delta)

    async def usage(self, scope: str, subject: str, now: float) -> dict[str, float]:
        def window_sum(kind: str) -> float:
            window = self._windows.get((kind, scope, subject))
            return sum(amount for amount, _ in window.live(now)) if window is not None else 0.0

        return {
            "requests_1m": window_sum("rpm"),
            "tokens_1m": window_sum("tpm"),
            "concurrent": float(self._live_slots((scope, subject), now)),
        }

    def sizes(self) -> dict[str, int]:
        """Entries held, by kind: rpm/tpm windows (idle ones until their sweep), concurrency
        slots, spend counters, acquires held or abandoned within their hold."""
        held: Sized = [*self._held, *self._gone]
        found: dict[str, Sized] = {"windows": self._windows, "slots": self._slots}
        found |= {"spend": self._spend, "reservations": held}
        return {kind: len(table) for kind, table in found.items()}
