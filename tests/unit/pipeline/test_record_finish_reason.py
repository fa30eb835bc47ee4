"""A record's `finish_reason` says why the answer ended, for JSON answers and for streams
relayed in OpenAI's format (docs/request-log.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from gateway.app import create_app
from gateway.config.load import load_config
from gateway.observability.recorder import MemorySink

CONFIG = """
[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "m"
[[models.deployments]]
provider = "mock"
model = "mock-small"

[[keys]]
id = "k"
key_sha256 = "f77894fdfa58e447c57e077eaa9708e8e009c84dc6aba2db80461275e9b85be7"
"""
HEADERS = {"authorization": "Bearer sk-demo"}


async def record_of(tmp_path: Path, body: dict[str, object]) -> dict[str, object]:
    (tmp_path / "config.toml").write_text(CONFIG)
    sink = MemorySink()
    app = create_app(load_config(tmp_path / "config.toml"), recorder=sink, watch_config=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        answer = await client.post("/v1/chat/completions", json=body, headers=HEADERS)
        assert answer.status_code == 200
        for _ in range(100):  # the record is written off the response's path
            if sink.records:
                break
            await asyncio.sleep(0.01)
    assert len(sink.records) == 1
    return sink.records[0]


async def test_a_json_answer_records_its_finish_reason(tmp_path: Path) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    assert (await record_of(tmp_path, body))["finish_reason"] == "length"


async def test_a_streamed_answer_records_its_finish_reason(tmp_path: Path) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    assert (await record_of(tmp_path, body))["finish_reason"] == "stop"


async def test_a_streamed_answer_cut_by_max_tokens_records_length(tmp_path: Path) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "max_tokens": 2,
    }
    assert (await record_of(tmp_path, body))["finish_reason"] == "length"
