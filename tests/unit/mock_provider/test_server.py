"""The mock provider's ASGI app, driven directly: disconnect handling and its own endpoints."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import orjson

from gateway.mock_provider.handler import MockHandler
from gateway.mock_provider.server import MockProviderApp

CHAT = "/v1/chat/completions"


class FakeClient:
    """Plays the ASGI server: sends one request body, then reports a disconnect when told to."""

    def __init__(self, body: bytes = b"") -> None:
        self.body = body
        self.sent: list[MutableMapping[str, Any]] = []
        self.gone = asyncio.Event()
        self._delivered = False

    async def receive(self) -> dict[str, Any]:
        if not self._delivered:
            self._delivered = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body_bytes(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def scope(method: str, path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"authorization", b"Bearer abc")],
    }


def chat(model: str = "mock-small", **extra: Any) -> bytes:
    return orjson.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], **extra})


async def test_json_reply_and_internal_endpoints() -> None:
    app = MockProviderApp()
    client = FakeClient(chat())
    await app(scope("POST", CHAT), client.receive, client.send)
    assert client.status == 200 and json.loads(client.body_bytes)["object"] == "chat.completion"
    stats = FakeClient()
    await app(scope("GET", "/_mock/stats"), stats.receive, stats.send)
    data = json.loads(stats.body_bytes)
    assert data["requests"] == 1 and data["auth_headers_seen"] == ["Bearer abc"]
    reset = FakeClient()
    await app(scope("POST", "/_mock/reset"), reset.receive, reset.send)
    assert app.handler.stats.requests == 0
    health = FakeClient()
    await app(scope("GET", "/healthz"), health.receive, health.send)
    assert json.loads(health.body_bytes) == {"status": "ok"}


async def test_client_leaving_cancels_a_paced_stream() -> None:
    app = MockProviderApp(MockHandler(tokens_per_s=50))
    client = FakeClient(chat(stream=True))
    task = asyncio.ensure_future(app(scope("POST", CHAT), client.receive, client.send))
    await asyncio.sleep(0.05)
    assert app.handler.stats.active_streams == 1
    client.gone.set()
    await asyncio.wait_for(task, 1)
    stats = app.handler.stats
    assert (stats.cancelled_streams, stats.active_streams, stats.completed_streams) == (1, 0, 0)
    assert all(m["more_body"] for m in client.sent[1:]), "the stream never finished"


async def test_client_leaving_ends_a_fail_timeout_request() -> None:
    app = MockProviderApp()
    client = FakeClient(chat("fail-timeout"))
    task = asyncio.ensure_future(app(scope("POST", CHAT), client.receive, client.send))
    await asyncio.sleep(0.05)
    assert not task.done() and client.sent == []
    client.gone.set()
    await asyncio.wait_for(task, 1)
    assert client.sent == []


async def test_lifespan() -> None:
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await MockProviderApp()({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
