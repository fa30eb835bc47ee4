"""The request record carries `trace_id`, so a slow or costly record leads to its trace."""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from tests.mock_config import DEMO_KEY, MOCK_MODEL, key_table

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_records_carry_the_trace_id_of_the_request(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(MOCK_MODEL + key_table("k"))
    sink = MemorySink()
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=sink, watch_config=False
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    auth = {"authorization": f"Bearer {DEMO_KEY}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        await client.post(
            "/v1/chat/completions",
            json=body,
            headers={**auth, "traceparent": f"00-{CLIENT_TRACE}-00f067aa0ba902b7-01"},
        )
        await client.post("/v1/chat/completions", json=body, headers=auth)
        await client.get("/metrics")  # every ended request is recorded first
    traced, untraced = sink.records
    assert traced["trace_id"] == CLIENT_TRACE
    assert "trace_id" in untraced and untraced["trace_id"] is None
