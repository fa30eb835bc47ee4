"""A `GuardedHttpToolsProtocol` fed bytes by hand over a recording transport (no sockets)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState

from gateway.config.types import ServerConfig
from gateway.http.protocol import GuardedHttpToolsProtocol
from gateway.http.refusing import COUNT_REFUSAL_STATE


class Transport(asyncio.Transport):
    """Records what is written; reading is paused and resumed without effect."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.eof = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def write_eof(self) -> None:
        self.eof = True

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 5000) if name in ("peername", "sockname") else None

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def protocol(
    limits: ServerConfig,
    state: ServerState | None = None,
    counted: list[str] | None = None,
    app: ASGIApp = _app,
) -> tuple[GuardedHttpToolsProtocol, Transport]:
    """A protocol serving `app` on a recording transport, as `gateway serve` makes one."""
    config = Config(app=app, ws="none")  # as `gateway serve` runs it
    config.load()
    app_state: dict[str, Any] = {}
    if counted is not None:
        app_state[COUNT_REFUSAL_STATE] = counted.append
    protocol = GuardedHttpToolsProtocol(config, state or ServerState(), app_state, limits=limits)
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


def answer(transport: Transport) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the one answer written."""
    head, _, body = transport.written.partition(b"\r\n\r\n")
    return int(head.split()[1]), orjson.loads(body)
