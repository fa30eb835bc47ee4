"""[server] max_inflight_body_bytes: request bodies are counted from their first byte until
their request ends; a body that would pass the budget gets 503 `server_busy` with Retry-After,
and while no other body is held any body is taken."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from gateway.app import create_app
from gateway.config.load import load_config
from gateway.errors import ServiceUnavailable
from gateway.http.body_budget import BodyBudget
from gateway.observability.recorder import MemorySink
from tests.mock_config import MOCK_MODEL, key_table

HEADERS = {"authorization": "Bearer sk-demo", "content-type": "application/json"}


def test_a_body_past_the_budget_is_refused_unless_none_is_held() -> None:
    budget = BodyBudget()
    budget.take(900, limit=100)  # nothing else held: taken, even past the budget
    with pytest.raises(ServiceUnavailable) as refused:
        budget.take(1, limit=100)
    assert refused.value.status == 503 and refused.value.code == "server_busy"
    assert refused.value.headers == {"retry-after": "1"}
    budget.give(900)
    budget.take(60, limit=100)
    budget.take(40, limit=100)  # exactly the budget
    with pytest.raises(ServiceUnavailable):
        budget.take(1, limit=100)
    budget.give(100)
    assert budget.held == 0


async def test_a_second_body_waits_for_the_first_to_end(tmp_path: Path) -> None:
    config = "[server]\nmax_inflight_body_bytes = 100000\n\n" + MOCK_MODEL + key_table("k")
    (tmp_path / "config.toml").write_text(config)
    app = create_app(
        load_config(tmp_path / "config.toml"), recorder=MemorySink(), watch_config=False
    )
    prompt = "x" * 90_000
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": prompt}]})
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield body[:70_000]  # 70 kB held while the rest waits
        await release.wait()
        yield body[70_000:]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        first = asyncio.create_task(
            client.post("/v1/chat/completions", content=slow_body(), headers=HEADERS)
        )
        for _ in range(10_000):  # until the first body's bytes are counted
            if app.state.bodies.held:
                break
            await asyncio.sleep(0)
        assert app.state.bodies.held == 70_000
        second = await client.post("/v1/chat/completions", content=body, headers=HEADERS)
        assert second.status_code == 503
        assert second.json()["error"]["code"] == "server_busy"
        assert second.headers["retry-after"] == "1"
        release.set()
        assert (await first).status_code == 200
        assert app.state.bodies.held == 0  # given back when the request ended
        third = await client.post("/v1/chat/completions", content=body, headers=HEADERS)
        assert third.status_code == 200
