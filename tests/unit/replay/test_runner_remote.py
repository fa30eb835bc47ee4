"""Replaying through --base-url (another gateway): its timeout bounds the whole answer, however
slowly it trickles in, and the cost comes from the answer's usage, prompt cache writes priced as
writes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.config import DeploymentConfig
from gateway.replay.runner import ReplayOptions, Runner
from gateway.replay.target import Target, remote
from tests.unit.replay.logged_records import record


async def test_remote_timeout_bounds_an_answer_that_trickles_in() -> None:
    """httpx's timeout bounds each read: a body sent one byte at a time never timed out."""

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: 100000\r\n\r\n")
        try:
            while True:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.05)
        except (ConnectionError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(drip, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    records = [record(0, {"model": "old", "messages": [{"role": "user", "content": "q"}]}, None)]
    async with server, remote(f"http://127.0.0.1:{port}", "k", None, 0.3, 1) as client_target:
        rows = await asyncio.wait_for(Runner(client_target, ReplayOptions("new")).run(records), 5)
    assert rows[0].error is not None and rows[0].error.startswith("timed out")


@pytest.mark.parametrize(("one_hour", "price"), [(0, 1.25), (400_000, 1.25 * 0.6 + 2.0 * 0.4)])
async def test_a_remote_answers_prompt_cache_writes_are_priced_as_writes(
    one_hour: int, price: float
) -> None:
    # Through --base-url the cost comes from the answer's usage: Anthropic's cache writes cost
    # 1.25 x the input price (cache_write_cost_per_1m unset), those to its 1-hour cache 2 x, as
    # the gateway prices them.
    async def answer(request: httpx.Request) -> httpx.Response:
        usage = {
            "input_tokens": 0,
            "cache_creation_input_tokens": 1_000_000,
            "cache_creation": {"ephemeral_1h_input_tokens": one_hour},
            "output_tokens": 0,
        }
        return httpx.Response(
            200,
            headers={"x-gateway-deployment": "mock/new", "x-request-id": "req_new"},
            json={"type": "message", "content": [{"type": "text", "text": "hi"}], "usage": usage},
        )

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://gateway")
    prices = {"mock/new": DeploymentConfig(provider="mock", model="new", input_cost_per_1m=1.0)}
    fake = Target(client, "fake", lambda request_id: None, prices)
    logged = record(
        0,
        {"model": "old", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        {"type": "message", "content": [{"type": "text", "text": "hi"}]},
        endpoint="/v1/messages",
    )
    async with fake.client:
        (row,) = await Runner(fake, ReplayOptions(model="new")).run([logged])
    assert row.prompt_tokens_new == 1_000_000 and row.cost_usd_new == pytest.approx(price)
