"""The response cache's size as gauges at scrape time: the memory backend's entries and bytes,
no sample for a cache the process does not hold (Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.cache_size import refresh_cache_size
from gateway.observability.metrics import Metrics
from gateway.observability.recorder import MemorySink
from gateway.state import StateBackend
from tests.mock_config import MOCK_MODEL, key_table

CONFIG = MOCK_MODEL + key_table("k", policy="cached")
HEADERS = {"authorization": "Bearer sk-demo"}


def samples(text: str, name: str) -> dict[str, float]:
    return {
        sample.labels["backend"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


async def test_metrics_say_how_full_the_memory_cache_is(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "cached.toml").write_text('[cache]\nmode = "exact"\n')
    services_app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=MemorySink(), watch_config=False
    )
    transport = httpx.ASGITransport(app=services_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        text = (await client.get("/metrics")).text
        assert samples(text, "gateway_cache_entries") == {"memory": 0.0}
        for content in ("one", "two", "one"):  # two misses stored, one hit
            body = {"model": "m", "messages": [{"role": "user", "content": content}]}
            response = await client.post("/v1/chat/completions", json=body, headers=HEADERS)
            assert response.status_code == 200
        await services_app.state.services.aclose()  # the stores, off the request path, done
        text = (await client.get("/metrics")).text
    assert samples(text, "gateway_cache_entries") == {"memory": 2.0}
    stored = services_app.state.services.state.cache.bytes
    assert stored > 0 and samples(text, "gateway_cache_bytes") == {"memory": float(stored)}


def test_a_shared_cache_has_no_sample() -> None:
    metrics = Metrics()
    refresh_cache_size(cast(StateBackend, object()), metrics)
    assert metrics.registry.get_sample_value("gateway_cache_entries", {"backend": "memory"}) is None
