"""The end of a request: its concurrency slot is free before the answer's last byte is sent
(whatever the answer: JSON, a stream, an error), on memory and on Redis state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.types import Message

from gateway.app import GatewayApp, create_app
from gateway.config.load import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.services import Services
from tests.mock_config import MOCK_MODEL, key_table
from tests.redis_server import RedisServer, start_redis_or_skip

CONFIG = (
    "{state}\n"
    + MOCK_MODEL
    + '\n[[models]]\nname = "broken"\n'
    + '[[models.deployments]]\nprovider = "mock"\nmodel = "fail-500"\n'
    + key_table("k", policy="capped")
)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis_or_skip()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
async def app(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[GatewayApp]:
    state = ""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        state = f'[state]\nbackend = "redis"\nredis_url = "{server.url}"\n'
    (tmp_path / "config.toml").write_text(CONFIG.format(state=state))
    (tmp_path / "policies").mkdir()
    # A subject of its own per test: the Redis server is shared by the module.
    (tmp_path / "policies" / "capped.toml").write_text("[limits]\nmax_concurrent = 1\n")
    built = create_app(
        load_config(tmp_path / "config.toml"), recorder=MemorySink(), watch_config=False
    )
    services: Services = built.state.services
    await services.limiter.state.delete("warm-up")  # connected (Redis): the first call connects
    yield built
    await services.aclose()


async def slots_when_the_last_byte_leaves(app: GatewayApp, body: dict[str, Any]) -> list[float]:
    """Send one request; at the message that ends the answer, read the key's slots in use."""
    services: Services = app.state.services
    seen: list[float] = []
    raw = orjson.dumps(body)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"authorization", b"Bearer sk-demo"), (b"content-type", b"application/json")],
        "query_string": b"",
    }

    received = False
    stays = asyncio.Event()  # never set: the client stays connected

    async def receive() -> Message:
        nonlocal received
        if received:
            await stays.wait()
        received = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            usage = await services.limiter.state.usage("key", "k", time.time())
            seen.append(usage["concurrent"])

    await app(scope, receive, send)
    return seen


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 5}


async def test_the_slot_is_free_before_the_last_byte_of_an_answer(app: GatewayApp) -> None:
    """The usage read is sent after the slot's release on the same state connection (Redis
    answers in order), so it sees what the client's next request would see, on any replica.
    Before, the slot was freed after the last byte (and, on Redis, possibly batched behind
    another settlement), so a client that sent its next request at once could find it taken."""
    assert await slots_when_the_last_byte_leaves(app, CHAT) == [0]
    assert await slots_when_the_last_byte_leaves(app, {**CHAT, "stream": True}) == [0]


async def test_the_slot_is_free_before_the_last_byte_of_an_error(app: GatewayApp) -> None:
    assert await slots_when_the_last_byte_leaves(app, {**CHAT, "model": "broken"}) == [0]
