"""What the memory state backend holds, as gauges at scrape time: the response cache's entries
and bytes, the remembered Responses conversations and the limit counters; no sample for a
backend the process does not hold (Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.metrics import Metrics
from gateway.observability.recorder import MemorySink
from gateway.observability.state_size import refresh_state_size
from gateway.state import MemoryState, StateBackend
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


def by_kind(text: str, name: str) -> dict[str, float]:
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and sample.labels["backend"] == "memory"
    }


async def test_metrics_say_what_the_memory_state_holds(tmp_path: Path) -> None:
    """Remembered Responses conversations (entries and bytes) and the limit counters: rpm and
    tpm windows, concurrency slots, spend counters, reservations of requests in flight."""
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "cached.toml").write_text(
        "[limits]\nrpm = 100\ntpm = 100000\nmax_concurrent = 4\nbudget_usd_per_day = 5.0\n"
    )
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=MemorySink(), watch_config=False
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        text = (await client.get("/metrics")).text
        empty = {"responses": 0, "windows": 0, "slots": 0, "spend": 0, "reservations": 0}
        assert by_kind(text, "gateway_state_entries") == empty
        assert by_kind(text, "gateway_state_bytes") == {"responses": 0.0}
        for words in ("one", "two"):
            body = {"model": "m", "input": words}
            response = await client.post("/v1/responses", json=body, headers=HEADERS)
            assert response.status_code == 200
        await app.state.services.aclose()  # the conversations, remembered off the path, kept
        text = (await client.get("/metrics")).text
    state: MemoryState = app.state.services.state
    entries = by_kind(text, "gateway_state_entries")
    assert entries["responses"] == 2 == len(state.remembered)
    assert by_kind(text, "gateway_state_bytes") == {"responses": float(state.remembered.bytes)}
    assert state.remembered.bytes > 0
    # One key: its rpm and tpm windows, its slots (emptied, kept until their sweep), its spend.
    assert (entries["windows"], entries["slots"], entries["spend"]) == (2, 1, 1)
    assert entries["reservations"] == 0  # both settled


def test_a_shared_state_has_no_sample() -> None:
    metrics = Metrics()
    refresh_state_size(cast(StateBackend, object()), metrics.state_gauges)
    for name in ("gateway_cache_entries", "gateway_state_entries", "gateway_state_bytes"):
        assert all(
            sample.name != name
            for family in metrics.registry.collect()
            for sample in family.samples
        )
