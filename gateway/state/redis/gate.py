"""Fail fast while Redis is known to be unreachable, and find out in the background when it is
back: what keeps a stalled or dead Redis from costing a request more than one timeout.

A call that times out or loses its connection closes the gate (`failed`). While it is closed
every call is refused at once (`StateUnavailable`, kind "down") instead of waiting out a
timeout of its own, or queueing behind a reconnect; one probe at a time (a fresh connection
and a PING, bounded by the connect timeout) runs in the background, and the first that succeeds
opens the gate again. So, whichever client is used:

- a request in flight when Redis stalls waits at most one timeout;
- requests that come later are refused at once until Redis answers a probe again;
- once Redis answers, calls flow again within one probe (at most `retry_s` after it wakes).

Error replies (OOM, NOAUTH, READONLY, ...) leave the gate open: the server answers, each call
gets its own reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from gateway.state.base import StateUnavailable

log = logging.getLogger("gateway.state")
# The pause between two failed probes (a refused connection fails at once: do not spin).
RETRY_S = 0.1
# Failures that say the server cannot be reached at all (not an error reply).
TRANSPORT_KINDS = frozenset({"connection", "timeout"})


class Gate:
    def __init__(self, probe: Callable[[], Awaitable[None]], retry_s: float = RETRY_S) -> None:
        """`probe` opens a connection and checks that the server answers; it raises
        StateUnavailable when it cannot (and bounds its own time)."""
        self._probe = probe
        self.retry_s = retry_s
        self.down: StateUnavailable | None = None  # why, while closed
        self._task: asyncio.Task[None] | None = None

    def check(self) -> None:
        """Raise at once while Redis is known to be unreachable."""
        if self.down is not None:
            raise StateUnavailable(f"redis: unreachable, reconnecting ({self.down})", "down")

    def refusal(self) -> StateUnavailable | None:
        """What `check` would raise, as a value (None while open)."""
        if self.down is None:
            return None
        return StateUnavailable(f"redis: unreachable, reconnecting ({self.down})", "down")

    def failed(self, error: BaseException) -> None:
        """A call failed with `error`; a transport failure closes the gate and starts probing."""
        if not isinstance(error, StateUnavailable) or error.kind not in TRANSPORT_KINDS:
            return
        if self.down is None:
            log.warning("redis unreachable, calls fail fast until it answers again: %s", error)
        self.down = error
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._until_up())

    async def probe_now(self) -> bool:
        """Probe at once (a health check while closed); success opens the gate."""
        try:
            await self._probe()
        except Exception:  # noqa: BLE001 - any failure: still unreachable
            return False
        self.down = None
        return True

    async def _until_up(self) -> None:
        while self.down is not None:
            try:
                await self._probe()
            except Exception as exc:  # noqa: BLE001 - any failure: stay closed, try again
                error = (
                    exc if isinstance(exc, StateUnavailable) else StateUnavailable(f"redis: {exc}")
                )
                if error.kind not in TRANSPORT_KINDS:
                    # It answered (NOAUTH, LOADING...): reachable, each call gets its own reply.
                    log.warning("redis answers again, with an error: %s", error)
                    self.down = None
                    return
                self.down = error
                await asyncio.sleep(self.retry_s)
            else:
                log.warning("redis answers again")
                self.down = None

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
