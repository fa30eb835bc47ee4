"""`MemoryState.prepare`: a plan's rpm, tpm and concurrency checks bound to this process's
windows and slots (`gateway.state.prepared`).

The checks are worked out once: which window or slots each one counts on, its limit, whether
it reserves the request's tokens. An acquire then reads and reserves those counters directly,
with the rules of `MemoryState.acquire` (`SlidingWindow.room`, `Slots.live`): no check, result,
reservation or settlement objects, no lookups by key. The counters stay bound until the state
drops an idle one (`MemoryState.generation` moves): the next acquire or settle binds them again,
so a prepared plan and `acquire` always count on the same window or slots.

`prepare_on` binds the usual plan, one rpm and one tpm window (and at most one set of slots),
to `OneOfEach`, which writes that plan's acquire and settle out; other plans take the general
path of `MemoryPrepared`.

A prepared acquire is not remembered under its token as `acquire`'s are: that memory serves
`abandon`, and nobody gives up on an acquire that is decided before it returns. Its slots are
held under a number from a process-wide counter, not a token (made and hashed on every
request, the string cost about 0.5 us of a request's CPU on a loaded worker); a hold that
becomes a reservation (`reservation_token`: a request falling back) moves them to a token.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Protocol

from gateway.state.base import WINDOW_KINDS, LimitCheck, new_token
from gateway.state.memory_breakers import BreakerBook
from gateway.state.memory_slots import Slots
from gateway.state.prepared import PreparedHold, WindowFigures
from gateway.state.windows import SlidingWindow, reserve_both


class Counters(Protocol):
    """What a prepared plan reads of `MemoryState`."""

    @property
    def generation(self) -> int:
        """Moves whenever a window or slots leave the state (bound counters may be stale)."""
        ...

    @property
    def next_prune(self) -> float:
        """When `tick` has housekeeping to do."""
        ...

    def tick(self, now: float) -> None:
        """The housekeeping an acquire does first (the periodic prune, due at `next_prune`)."""
        ...

    def window_of(self, counter: tuple[str, str, str], now: float) -> SlidingWindow:
        """The window of (kind, scope, subject), made when there is none."""
        ...

    def slots_of(self, subject: tuple[str, str], now: float) -> Slots:
        """The slots of (scope, subject), made when there are none."""
        ...

    @property
    def breakers(self) -> BreakerBook:
        """The circuit breakers an acquire reads (`BreakerBook.closed_views`)."""
        ...


# What a prepared hold's slots are held under: unique in this process (`Slots` takes numbers).
_numbers = itertools.count(1)

# A bound window: (the window, its limit).
_Bound = tuple[SlidingWindow, float]


def prepare_on(state: Counters, checks: Sequence[LimitCheck]) -> MemoryPrepared | None:
    """The checks bound to `state`'s counters, or None when they cannot be (`preparable`)."""
    if not preparable(checks):
        return None
    kinds = sorted(check.kind for check in checks)
    if kinds == ["rpm", "tpm"] or kinds == ["concurrent", "rpm", "tpm"]:
        return OneOfEach(state, checks)
    return MemoryPrepared(state, checks)


def preparable(checks: Sequence[LimitCheck]) -> bool:
    """rpm, tpm and concurrency checks only, each on a counter of its own."""
    counters = [(check.kind, check.scope, check.subject) for check in checks]
    return (
        bool(checks)
        and len(set(counters)) == len(counters)
        and all(check.kind in WINDOW_KINDS or check.kind == "concurrent" for check in checks)
    )


class MemoryPrepared:
    """One plan's checks on one `MemoryState` (made by `MemoryState.prepare`)."""

    def __init__(self, state: Counters, checks: Sequence[LimitCheck]) -> None:
        self._state = state
        self._checks = tuple(checks)
        self.holds_slots = any(check.kind == "concurrent" for check in checks)
        self._generation = -1  # not bound yet
        # The rpm windows and the tpm windows apart: the loops of an acquire then need not ask
        # each window what it counts (the order of each kind's checks is kept).
        self._request_windows: list[_Bound] = []
        self._token_windows: list[_Bound] = []
        self._slots: list[tuple[Slots, float]] = []

    def _bind(self, now: float) -> None:
        """Find (or make) every counter the checks count on, as `acquire` would."""
        state = self._state
        requests: list[_Bound] = []
        tokens: list[_Bound] = []
        slots: list[tuple[Slots, float]] = []
        for check in self._checks:
            if check.kind == "concurrent":
                slots.append((state.slots_of((check.scope, check.subject), now), check.limit))
            else:
                window = state.window_of((check.kind, check.scope, check.subject), now)
                (tokens if check.kind == "tpm" else requests).append((window, check.limit))
        self._request_windows, self._token_windows, self._slots = requests, tokens, slots
        self._generation = state.generation

    def acquire(
        self, tokens: int, now: float, hold_s: float, breakers: tuple[str, ...]
    ) -> PreparedHold | None:
        state = self._state
        state.tick(now)
        if self._generation != state.generation:
            self._bind(now)
        # The verdicts first (nothing reserved unless every check allows), keeping the
        # tightest request window and token window for the rate headers (the first of equals).
        requests: WindowFigures | None = None
        for window, limit in self._request_windows:
            room = window.room(1, limit, now)
            if room is None:
                return None
            if requests is None or room[1] < requests[1]:
                requests = room
        token_window: WindowFigures | None = None
        for window, limit in self._token_windows:
            room = window.room(tokens, limit, now)
            if room is None:
                return None
            if token_window is None or room[1] < token_window[1]:
                token_window = room
        for slots, limit in self._slots:
            if slots.live(now) >= limit:  # `used + 1 > limit`: slots are whole
                return None
        second = math.floor(now)
        for window, _ in self._request_windows:
            window.add(second, 1, now)
        for window, _ in self._token_windows:
            window.add(second, tokens, now)
        number = next(_numbers)
        if self._slots:
            end = now + hold_s
            for slots, _ in self._slots:
                slots.take(number, end)
        views = state.breakers.closed_views(breakers, now)
        return PreparedHold(number, now, tokens, requests, token_window, views)

    def free_slots(self, hold: PreparedHold) -> None:
        if self._generation != self._state.generation:
            self._bind(hold.at)
        for slots, _ in self._slots:
            slots.free(hold.number)

    def reservation_token(self, hold: PreparedHold) -> str:
        token = new_token()
        if self._generation != self._state.generation:
            self._bind(hold.at)
        for slots, _ in self._slots:
            slots.move(hold.number, token)
        return token

    def settle(self, hold: PreparedHold, actual_tokens: int) -> None:
        """A counter dropped since the acquire (idle: its slot ended, its bucket left the
        window) has nothing of this request left, and its successor nothing to free."""
        # `free_slots` written out: settling is on every request's path, one call fewer.
        if self._generation != self._state.generation:
            self._bind(hold.at)
        for slots, _ in self._slots:
            slots.free(hold.number)
        delta = actual_tokens - hold.tokens
        if delta:
            second = math.floor(hold.at)
            for window, _ in self._token_windows:
                window.adjust(second, delta)


class OneOfEach(MemoryPrepared):
    """The usual plan, a key's rpm and tpm (and max_concurrent): one request window, one token
    window and at most one set of slots, acquired and settled without the loops over lists of
    one and the search for the tightest window: the slot taken if one is free
    (`Slots.take_within`), then both windows checked and reserved in one call
    (`windows.reserve_both`), two calls where `MemoryPrepared` makes six (a call costs about
    0.3 us on a loaded worker: docs/performance.md, twentieth round)."""

    # Bound by `_bind`, which runs before any of them is read (`_generation` starts at -1).
    _rpm: SlidingWindow
    _rpm_limit: float
    _tpm: SlidingWindow
    _tpm_limit: float
    _one_slots: Slots | None
    _slots_limit: float

    def _bind(self, now: float) -> None:
        super()._bind(now)
        ((self._rpm, self._rpm_limit),) = self._request_windows
        ((self._tpm, self._tpm_limit),) = self._token_windows
        self._one_slots, self._slots_limit = self._slots[0] if self._slots else (None, 0.0)

    def acquire(
        self, tokens: int, now: float, hold_s: float, breakers: tuple[str, ...]
    ) -> PreparedHold | None:
        state = self._state
        # `state.tick(now)` when it has something to do: the call and its test in the callee
        # counted 13 interpreter opcodes a request, this test 5.
        if now >= state.next_prune:
            state.tick(now)
        if self._generation != state.generation:
            self._bind(now)
        # The slot first, then both windows in one call (`reserve_both`): a refusal by either
        # hands the slot back. (The order of the checks tells nothing: a refused prepared
        # acquire is acquired again through `acquire`, which says which limit refused.)
        number = next(_numbers)
        slots = self._one_slots
        if slots is not None and not slots.take_within(
            number, now + hold_s, self._slots_limit, now
        ):
            return None
        figures = reserve_both(self._rpm, self._rpm_limit, self._tpm, self._tpm_limit, tokens, now)
        if figures is None:
            if slots is not None:
                slots.free(number)
            return None
        views = state.breakers.closed_views(breakers, now)
        return PreparedHold(number, now, tokens, figures[0], figures[1], views)

    def settle(self, hold: PreparedHold, actual_tokens: int) -> None:
        if self._generation != self._state.generation:
            self._bind(hold.at)
        slots = self._one_slots
        if slots is not None:
            slots.free(hold.number)
        delta = actual_tokens - hold.tokens
        if delta:
            self._tpm.adjust(math.floor(hold.at), delta)
