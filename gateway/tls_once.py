"""`ContextOnce`: a TLS client context built once, in a worker thread, for a client that makes
its connections on the event loop.

Building a context loads the system's CA store: 10-30 ms of CPU (31 ms measured on the machine
of docs/performance.md), during which every request of the process stalls when it is done on
the loop. A provider's network client (`gateway.upstream`) and the hand-written Redis client
(`gateway.state.redis.resp`, on a `rediss://` URL) each keep one: the connections that wait for
it share the one build; one cancelled (its request gone, a connect timed out) does not cancel
it; a build that fails (a TLS file gone bad since the load) is tried again by the next caller.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable


class ContextOnce:
    """`build()`'s context, made once off the event loop (see the module docstring)."""

    __slots__ = ("_build", "_building", "context")

    def __init__(self, build: Callable[[], ssl.SSLContext]) -> None:
        self._build = build
        self.context: ssl.SSLContext | None = None
        self._building: asyncio.Future[ssl.SSLContext] | None = None

    async def get(self) -> ssl.SSLContext:
        context = self.context
        if context is not None:
            return context
        building = self._building
        if building is None:
            building = asyncio.ensure_future(asyncio.to_thread(self._build))
            self._building = building
            building.add_done_callback(self._built)
        return await asyncio.shield(building)

    def _built(self, building: asyncio.Future[ssl.SSLContext]) -> None:
        self._building = None
        if not building.cancelled() and building.exception() is None:
            self.context = building.result()
