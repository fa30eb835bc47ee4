"""Stop the work of a request whose client went away.

uvicorn's `send` stays silent once the client is gone, so a request would otherwise run to its
end (an upstream call held open until its timeout, retries and fallbacks started for nobody).
`DisconnectWatch` listens for ASGI's `http.disconnect` beside the request's own task and
cancels that task when it comes; the cancellation reaches the upstream client, which closes its
connection. Watching costs a task, so it starts only after a short delay (`after_s`): a fast
request never pays for it, a slow one is cut off at most that much after its client left.
"""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive

from gateway.pipeline.context import RequestContext

# While the stages run (the upstream call of a JSON answer, or until a stream's first chunk),
# and while a stream is relayed.
WATCH_STAGES_AFTER_S = 0.02
WATCH_STREAM_AFTER_S = 0.05


class DisconnectWatch:
    """Cancels the current task when the client disconnects; `stop` ends the watch.
    `fired` says whether it cancelled the task (then `ctx.client_closed` is set too)."""

    def __init__(self, receive: Receive, ctx: RequestContext, after_s: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._receive = receive
        self._ctx = ctx
        self._watcher: asyncio.Task[None] | None = None
        self.fired = False
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            after_s, self._start
        )

    def _start(self) -> None:
        self._timer = None
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message: Message = await self._receive()
            if message["type"] == "http.disconnect":
                self.fired = True
                self._ctx.client_closed = True
                self._task.cancel()
                return

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
