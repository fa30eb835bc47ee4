"""One request to the gateway's app in this process, through ASGI, as uvicorn would make it.

For the load tests that measure CPU per request without sockets (record_cost.py,
limits_cost.py, pii_pipeline.py): the body arrives whole, the client never leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Scope


async def post(
    app: ASGIApp,
    path: str,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    state: Mapping[str, Any] | None = None,
) -> int:
    """POST `body` to `path`; the response's status. `state`: what the app's lifespan yielded
    (uvicorn copies it into each request's scope)."""
    scope: Scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "headers": headers,
        "query_string": b"",
    }
    if state is not None:
        scope["state"] = dict(state)
    delivered = False
    status = 0

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client never leaves
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def write_inprocess_config(directory: Path, model: str, keys: str, head: str = "") -> Path:
    """A gateway config serving `model` from the in-process mock provider, its request log in
    `directory`; `keys`: the `[[keys]]` tables; `head`: tables before `[logging]` (`[server]`,
    `[state]`)."""
    config = directory / "config.toml"
    config.write_text(
        f"""{head}[logging]
path = "{directory / "requests.jsonl"}"

[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "{model}"
[[models.deployments]]
provider = "mock"
model = "{model}"
input_cost_per_1m = 0.15
output_cost_per_1m = 0.60
{keys}"""
    )
    return config
