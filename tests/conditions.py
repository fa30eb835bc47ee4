"""Wait for a condition, not for a length of time.

Work that happens off the request path (records written, slots freed, caches filled, reloads)
is awaited by polling what a client can see, with a deadline: fast when the work is fast, a
clear failure when it never happens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T | None],
    timeout_s: float,
    interval_s: float = 0.01,
    message: str = "",
) -> T:
    """Call `predicate` every `interval_s` until it returns something truthy, and return that.

    Raises AssertionError (with `message` and the last value seen) when `timeout_s` passes
    first; the predicate is always called at least once.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{message or 'condition not met'} within {timeout_s} s (last value: {value!r})"
            )
        time.sleep(interval_s)


async def eventually(
    call: Callable[[], Awaitable[T | None]],
    timeout_s: float,
    interval_s: float = 0.01,
    message: str = "",
    ignore: tuple[type[Exception], ...] = (),
) -> T:
    """`wait_until` for a coroutine function: await `call()` every `interval_s` until it returns
    something truthy (an exception of a type in `ignore` counts as falsy), and return that."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = await call()
        except ignore as exc:
            value = None
            last: object = exc
        else:
            last = value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{message or 'condition not met'} within {timeout_s} s (last value: {last!r})"
            )
        await asyncio.sleep(interval_s)
