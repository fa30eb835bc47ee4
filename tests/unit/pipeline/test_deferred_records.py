"""A request's record is written after its response, without delaying the next request:
at the next request's first await, before /metrics answers, at shutdown, or within
RECORD_WITHIN_S. Its limits are settled at once. It says why the answer ended."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.config.load import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline import record as record_module
from gateway.pipeline.services import Services
from tests.mock_config import MOCK_MODEL, key_table

CONFIG = (
    '[logging]\npath = "logs/requests.jsonl"\n\n'
    + MOCK_MODEL
    + "input_cost_per_1m = 1.0\noutput_cost_per_1m = 2.0\n"
    + key_table("k", policy="capped")
)
POLICY = "[limits]\nmax_concurrent = 1\n"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
HEADERS = {"authorization": "Bearer sk-demo"}


def make_app(
    tmp_path: Path, logging: str = "", policy: str = POLICY
) -> tuple[httpx.AsyncClient, MemorySink, Services]:
    (tmp_path / "config.toml").write_text(CONFIG.replace("[logging]\n", "[logging]\n" + logging))
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "capped.toml").write_text(policy)
    sink = MemorySink()
    app = create_app(load_config(tmp_path / "config.toml"), recorder=sink, watch_config=False)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
    return client, sink, app.state.services


def requests_total(metrics_text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith("gateway_requests_total{")
    )


async def test_the_next_request_writes_the_record_while_it_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record_module, "RECORD_WITHIN_S", 60.0)
    client, sink, _ = make_app(tmp_path)
    async with client:
        first = await client.post("/v1/chat/completions", json=BODY, headers=HEADERS)
        assert first.status_code == 200
        assert sink.records == []  # not yet: after the response, off its path
        second = await client.post("/v1/chat/completions", json=BODY, headers=HEADERS)
        assert second.status_code == 200  # the slot (max_concurrent = 1) was freed at once
        # Written at the second request's first await (its call to the in-process mock).
        ids = [r["id"] for r in sink.records]
        assert ids == [first.headers["x-request-id"]]
        record = sink.records[0]
        assert record["status"] == 200 and record["cost_usd"] > 0
        assert record["latency_ms"] > 0


async def test_metrics_count_every_request_that_has_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record_module, "RECORD_WITHIN_S", 60.0)
    client, sink, _ = make_app(tmp_path)
    async with client:
        for _ in range(3):
            assert (
                await client.post("/v1/chat/completions", json=BODY, headers=HEADERS)
            ).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert requests_total(metrics) == 3
        assert len(sink.records) == 3


async def test_shutdown_writes_the_pending_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record_module, "RECORD_WITHIN_S", 60.0)
    client, sink, services = make_app(tmp_path)
    async with client:
        response = await client.post("/v1/chat/completions", json=BODY, headers=HEADERS)
    assert sink.records == []
    await services.aclose()
    assert [r["id"] for r in sink.records] == [response.headers["x-request-id"]]


async def test_an_idle_gateway_writes_the_record_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record_module, "RECORD_WITHIN_S", 0.0)
    client, sink, _ = make_app(tmp_path)
    async with client:
        response = await client.post("/v1/chat/completions", json=BODY, headers=HEADERS)
        for _ in range(100):  # a 0 s timer: due at the loop's next turns
            if sink.records:
                break
            await asyncio.sleep(0)
        assert [r["id"] for r in sink.records] == [response.headers["x-request-id"]]


async def test_with_record_batch_0_the_record_is_written_as_the_response_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record_module, "RECORD_WITHIN_S", 60.0)
    client, sink, _ = make_app(tmp_path, logging="record_batch_ms = 0\n")
    async with client:
        response = await client.post("/v1/chat/completions", json=BODY, headers=HEADERS)
        assert [r["id"] for r in sink.records] == [response.headers["x-request-id"]]


# An output guardrail wraps a stream's converter once more (docs/guardrails.md).
GUARDED = POLICY + '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "output"\n'


@pytest.mark.parametrize("policy", [POLICY, GUARDED], ids=["plain", "guarded"])
@pytest.mark.parametrize(
    ("stream", "max_tokens", "reason"),
    [(False, 2, "length"), (True, None, "stop"), (True, 2, "length")],
)
async def test_the_record_says_why_the_answer_ended(
    tmp_path: Path, stream: bool, max_tokens: int | None, reason: str, policy: str
) -> None:
    """JSON answers and streams relayed in OpenAI's format (docs/request-log.md)."""
    client, sink, services = make_app(tmp_path, policy=policy)
    body = {**BODY, "stream": stream} | ({"max_tokens": max_tokens} if max_tokens else {})
    async with client:
        response = await client.post("/v1/chat/completions", json=body, headers=HEADERS)
        assert response.status_code == 200
    await services.aclose()
    assert [r["finish_reason"] for r in sink.records] == [reason]
