"""A semantic cache's embedding call is spend: the key's budget counts it (a hit too), and the
record's `cost_usd` counts it once."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.services import Services
from tests.conditions import eventually

CONFIG = f"""
[[providers]]
name = "m"
type = "mock"

[[models]]
name = "echo"
[[models.deployments]]
provider = "m"
model = "echo"

[[models]]
name = "embed"
[[models.deployments]]
provider = "m"
model = "trigram-embed"
input_cost_per_1m = 1000.0

[[keys]]
id = "ann"
policy = "sem"
key_sha256 = "{hashlib.sha256(b"ann").hexdigest()}"
"""
POLICY = """
[cache]
mode = "semantic"
embedding_model = "embed"

[limits]
budget_usd_per_day = 100.0
"""


async def test_the_budget_counts_the_embedding_call_of_a_miss_and_of_a_hit(
    tmp_path: Path,
) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "sem.toml").write_text(POLICY)
    sink = MemorySink()
    app = create_app(load_config(tmp_path / "config.toml", env={}), recorder=sink)
    services: Services = app.state.services
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        for text in ("What is the capital of France?", "what is the capital of france"):
            body = {"model": "echo", "messages": [{"role": "user", "content": text}]}
            answer = await client.post(
                "/v1/chat/completions", json=body, headers={"authorization": "Bearer ann"}
            )
            assert answer.status_code == 200
            # The miss's answer is stored off the request path: done before the next asks.
            await eventually(lambda: _idle(services), 5, message="background work done")

    records = await eventually(lambda: _records(sink, 2), 5, message="two records")
    assert [record["cache"] for record in records] == ["miss", "hit"]
    embedding_costs = [float(str(record["cache_embedding_cost_usd"])) for record in records]
    assert all(cost > 0 for cost in embedding_costs)
    # The echo model is free: each request spent its embedding call, counted once.
    assert [record["cost_usd"] for record in records] == embedding_costs

    async def spent() -> float | None:
        day = (await services.limiter.state.spend("key", "ann", time.time()))["day"]
        return day if day == pytest.approx(sum(embedding_costs)) else None

    await eventually(spent, 5, message="the key's spend counts both embedding calls")
    await services.aclose()


async def _idle(services: Services) -> bool:
    return not services._background


async def _records(sink: MemorySink, count: int) -> list[dict[str, object]] | None:
    return list(sink.records) if len(sink.records) >= count else None
