"""The mock provider over HTTP: a raw ASGI app around `MockHandler`, and `run()` for uvicorn.

Besides the provider endpoints it serves `GET /_mock/stats`, `POST /_mock/reset` and
`GET /healthz`. While a reply is pending or streaming it watches for the client leaving and then
cancels the reply, so the stats show streams closed by the client. `drop-mid-stream` closes the
TCP connection under the response.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import orjson
import uvicorn
from starlette.types import Receive, Scope, Send

from gateway import tokens
from gateway.mock_provider.handler import MockConnectionDrop, MockHandler, MockReply

log = logging.getLogger("gateway.mock_provider")
_JSON_HEADERS = [(b"content-type", b"application/json")]
_SERVER_ERROR = orjson.dumps(
    {
        "error": {
            "message": "mock provider internal error",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
)


class MockProviderApp:
    """ASGI application serving a `MockHandler`."""

    def __init__(self, handler: MockHandler | None = None) -> None:
        self.handler = handler or MockHandler()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/healthz" or path.startswith("/_mock/"):
            await self._internal(method, path, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client left before sending its body
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        # Watching for the client leaving costs a task per request: only where a reply can wait.
        watch = _DisconnectWatch(receive) if self.handler.may_wait(body) else _NO_WATCH
        reply: MockReply | None = None
        started = False
        try:
            reply = await self.handler.handle(method, path, headers, body)
            raw_headers = [
                (name.encode("latin-1"), value.encode("latin-1"))
                for name, value in reply.headers.items()
            ]
            await send(
                {"type": "http.response.start", "status": reply.status, "headers": raw_headers}
            )
            started = True
            if "content-length" in reply.headers:
                payload = b"".join([piece async for piece in reply.body])
                watch.finished = True
                await send({"type": "http.response.body", "body": payload})
            else:
                async for piece in reply.body:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                watch.finished = True
                await send({"type": "http.response.body", "body": b""})
        except asyncio.CancelledError:
            if not watch.disconnected or watch.task is None:
                raise
            watch.task.uncancel()  # cancelled by the watch because the client left: a normal end
        except MockConnectionDrop:
            watch.finished = True
            await _drop_connection(send)
        except Exception:
            log.exception("mock provider failed on %s %s", method, path)
            if started:
                raise
            await _send_json(send, 500, _SERVER_ERROR)
        finally:
            watch.stop()
            if reply is not None:
                await reply.body.aclose()  # type: ignore[attr-defined]

    async def _internal(self, method: str, path: str, send: Send) -> None:
        if path == "/healthz":
            await _send_json(send, 200, b'{"status":"ok"}')
        elif path == "/_mock/stats" and method == "GET":
            await _send_json(send, 200, orjson.dumps(self.handler.stats.as_dict()))
        elif path == "/_mock/reset" and method == "POST":
            self.handler.stats.reset()
            await _send_json(send, 200, b'{"ok":true}')
        else:
            error = {
                "message": f"Unknown request URL: {method} {path}",
                "type": "invalid_request_error",
            }
            await _send_json(
                send, 404, orjson.dumps({"error": {**error, "param": None, "code": "unknown_url"}})
            )


class _DisconnectWatch:
    """Waits on `receive()` beside the request and cancels its task when the client leaves."""

    __slots__ = ("_watcher", "disconnected", "finished", "task")

    def __init__(self, receive: Receive | None) -> None:
        self.finished = False
        self.disconnected = False
        self.task: asyncio.Task[Any] | None = None
        self._watcher: asyncio.Task[None] | None = None
        if receive is not None:
            self.task = asyncio.current_task()
            self._watcher = asyncio.get_running_loop().create_task(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not self.finished and self.task is not None:
                    self.disconnected = True
                    self.task.cancel()
                return

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()


_NO_WATCH = _DisconnectWatch(None)  # stands in when nothing can wait; its flags are never read back


async def _read_body(receive: Receive) -> bytes | None:
    message = await receive()
    if message["type"] != "http.request":
        return None
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


async def _send_json(send: Send, status: int, payload: bytes) -> None:
    headers = _JSON_HEADERS + [(b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _drop_connection(send: Send) -> None:
    """Close the TCP connection as it is: no response, or a response cut off mid-body.

    uvicorn's protocol objects expose their transport through the bound `send`; closing it and
    letting the loop notice the connection loss makes uvicorn neither answer 500 nor log. Under
    another server we raise instead, which servers answer by closing the connection.
    """
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(cycle, "disconnected"):
        raise MockConnectionDrop("connection dropped")
    transport.close()
    for _ in range(10):
        if cycle.disconnected:
            return
        await asyncio.sleep(0)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def run(
    host: str = "127.0.0.1", port: int = 9000, latency_ms: float = 0, tokens_per_s: float = 0
) -> None:
    """Serve the mock provider with uvicorn until interrupted; print one line once listening."""
    tokens.count_text("warm up")  # load the tokenizer before the first request
    app = MockProviderApp(MockHandler(latency_ms=latency_ms, tokens_per_s=tokens_per_s))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
        # fail-timeout requests never end by themselves: do not let them hold up a shutdown.
        timeout_graceful_shutdown=1,
        # Keep idle connections longer than the gateway's pool does (30 s), so the pool never
        # reuses a connection at the moment the mock closes it.
        timeout_keep_alive=75,
    )
    _Server(config).run()


class _Server(uvicorn.Server):
    """uvicorn's server, announcing the address it actually listens on (so port 0 works)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit or not self.servers:
            return
        port = self.servers[0].sockets[0].getsockname()[1]
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        print(f"mock provider listening on http://{host}:{port}", flush=True)
