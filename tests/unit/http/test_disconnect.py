"""DisconnectWatch: the request's task is cancelled when the client disconnects, only after the
watch's delay, and never once the watch is stopped."""

from __future__ import annotations

import asyncio
from typing import cast

from starlette.types import Message

from gateway.http.disconnect import DisconnectWatch
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.runtime import Runtime


def _ctx() -> RequestContext:
    endpoint = Endpoint("/v1/chat/completions", "chat", "openai")
    return RequestContext(endpoint, cast(Runtime, None), "req_1", 0.0, 0.0, {})


class Client:
    """An ASGI `receive` after the body: it answers `http.disconnect` once the client left."""

    def __init__(self) -> None:
        self.left = asyncio.Event()
        self.calls = 0

    async def receive(self) -> Message:
        self.calls += 1
        await self.left.wait()
        return {"type": "http.disconnect"}


async def test_a_client_that_leaves_cancels_the_request() -> None:
    client, ctx = Client(), _ctx()

    async def request() -> None:
        watch = DisconnectWatch(client.receive, ctx, 0.0)
        try:
            await asyncio.sleep(30)  # the upstream call that never answers
        finally:
            watch.stop()

    task = asyncio.create_task(request())
    await asyncio.sleep(0.01)
    client.left.set()
    done, _ = await asyncio.wait([task], timeout=5)
    assert done and task.cancelled() and ctx.client_closed


async def test_nothing_is_watched_before_the_delay_nor_after_stop() -> None:
    client, ctx = Client(), _ctx()
    watch = DisconnectWatch(client.receive, ctx, 0.02)
    await asyncio.sleep(0)
    assert client.calls == 0  # a request served within the delay pays for no task
    watch.stop()
    client.left.set()
    await asyncio.sleep(0.05)
    assert client.calls == 0 and not watch.fired and not ctx.client_closed
