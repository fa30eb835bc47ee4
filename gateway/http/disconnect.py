"""Stop the work of a request whose client went away.

uvicorn's `send` stays silent once the client is gone, so a request would otherwise run to its
end (an upstream call held open until its timeout, retries and fallbacks started for nobody).
`DisconnectWatch` listens for ASGI's `http.disconnect` beside the request's own task and
cancels that task when it comes; the cancellation reaches the upstream client, which closes its
connection.

Watching costs a task, so it starts only once the request has run `after_s`: a fast request
never pays for it, a slow one is cut off at most `after_s + TICK_S` after its client left. Nor
does a request pay for a timer of its own: one ticker per event loop, running while requests
wait, starts the watches that are due (a timer made and cancelled per request costs more than
the rest of the watch).
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import Message, Receive

from gateway.pipeline.context import RequestContext

# While the stages run (the upstream call of a JSON answer, or until a stream's first chunk),
# and while a stream is relayed; a watch starts within TICK_S after its delay.
WATCH_STAGES_AFTER_S = 0.02
WATCH_STREAM_AFTER_S = 0.04
TICK_S = 0.01


class DisconnectWatch:
    """Cancels the current task when the client disconnects; `stop` ends the watch.
    `fired` says whether it cancelled the task (then `ctx.client_closed` is set too)."""

    __slots__ = ("_ctx", "_due", "_receive", "_task", "_ticker", "_watcher", "fired")

    def __init__(self, receive: Receive, ctx: RequestContext, after_s: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._receive = receive
        self._ctx = ctx
        self._watcher: asyncio.Task[None] | None = None
        self.fired = False
        self._due = time.monotonic() + after_s
        self._ticker = _ticker(task.get_loop())
        self._ticker.add(self)

    def _start(self) -> None:
        self._watcher = self._task.get_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message: Message = await self._receive()
            if message["type"] == "http.disconnect":
                self.fired = True
                self._ctx.client_closed = True
                self._task.cancel()
                return

    def stop(self) -> None:
        self._ticker.waiting.pop(self, None)
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None


class _Ticker:
    """Starts the watches of one event loop once they are due, every TICK_S while any waits."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[DisconnectWatch, None] = {}
        self._scheduled = False

    def add(self, watch: DisconnectWatch) -> None:
        self.waiting[watch] = None
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_later(TICK_S, self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        for watch in [w for w in self.waiting if w._due <= now]:
            del self.waiting[watch]
            watch._start()
        self._scheduled = bool(self.waiting)
        if self._scheduled:
            self.loop.call_later(TICK_S, self._tick)


_tickers: dict[asyncio.AbstractEventLoop, _Ticker] = {}


def _ticker(loop: asyncio.AbstractEventLoop) -> _Ticker:
    ticker = _tickers.get(loop)
    if ticker is None:
        _tickers.clear()  # a loop that ended (tests run one per test) needs none any more
        ticker = _tickers[loop] = _Ticker(loop)
    return ticker
