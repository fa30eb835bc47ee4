"""A stream cut short is recorded with at least the tokens it relayed, not the counts its start
carried (Anthropic's `message_start` says `output_tokens: 1` until `message_delta`)."""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from tests.mock_config import DEMO_KEY, key_table

CONFIG = """\
[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "cut"
[[models.deployments]]
provider = "mock"
model = "drop-mid-stream"
input_cost_per_1m = 1.0
output_cost_per_1m = 1000.0
""" + key_table("k")


async def test_an_anthropic_stream_cut_short_counts_the_text_it_relayed(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[logging]\ninclude_bodies = true\n\n" + CONFIG)
    sink = MemorySink()
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=sink, watch_config=False
    )
    body = {
        "model": "cut",
        "stream": True,
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "tell me"}],
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        answer = await client.post(
            "/v1/messages", json=body, headers={"authorization": f"Bearer {DEMO_KEY}"}
        )
        await client.get("/metrics")  # every ended request is recorded first
    assert "event: error" in answer.text  # the upstream dropped the stream mid-answer
    (record,) = sink.records
    assert record["error_type"] == "stream_interrupted"
    relayed_words = record["response"]["text"].split()
    assert len(relayed_words) >= 2
    assert record["completion_tokens"] >= len(relayed_words)
    assert record["usage_estimated"] is True
    assert record["cost_usd"] >= record["completion_tokens"] * 1000.0 / 1_000_000
