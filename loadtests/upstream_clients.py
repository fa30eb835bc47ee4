"""The upstream transport, chosen by measurement: aiohttp vs. the gateway's own HTTP/1.1 client.

    python loadtests/upstream_clients.py [--requests N]

Starts `gateway mock-provider` (0 ms) on loopback and, in one uvloop event loop (as `gateway
serve` runs), sends the same chat and streaming chat requests through each client: one at a time
(p50 latency and this process's CPU time per request) and 64 at a time (requests/s). Each
request reads the whole answer, as the gateway does. docs/performance-history.md ("The
upstream client") explains the choice these figures made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import MODEL, start_mock_provider

from gateway.upstream.base import UpstreamRequest, UpstreamTimeouts
from gateway.upstream.http1 import Http1Upstream

PROMPT = [{"role": "user", "content": "Tell me something about load testing."}]
HEADERS = {"content-type": "application/json"}
TIMEOUTS = UpstreamTimeouts()
Call = Callable[[bytes], Awaitable[bytes]]


def bodies() -> dict[str, bytes]:
    return {
        "chat": json.dumps({"model": MODEL, "messages": PROMPT}).encode(),
        "stream": json.dumps({"model": MODEL, "messages": PROMPT, "stream": True}).encode(),
    }


async def measure(call: Call, body: bytes, requests: int) -> tuple[float, float, float]:
    """(p50 ms one at a time, CPU us per request one at a time, requests/s 64 at a time)."""
    for _ in range(200):
        await call(body)
    latencies = []
    cpu = time.process_time()
    for _ in range(requests):
        started = time.perf_counter()
        await call(body)
        latencies.append(time.perf_counter() - started)
    cpu_us = (time.process_time() - cpu) / requests * 1e6

    async def worker(count: int) -> None:
        for _ in range(count):
            await call(body)

    started = time.perf_counter()
    await asyncio.gather(*(worker(requests // 64 + 1) for _ in range(64)))
    rps = 64 * (requests // 64 + 1) / (time.perf_counter() - started)
    return statistics.median(latencies) * 1000, cpu_us, rps


async def run(url: str, requests: int) -> None:
    import aiohttp

    endpoint = url + "/v1/chat/completions"
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=4.0))
    http1 = Http1Upstream()

    async def via_aiohttp(body: bytes) -> bytes:
        async with session.post(endpoint, data=body, headers=HEADERS) as response:
            return await response.read()

    async def via_http1(body: bytes) -> bytes:
        response = await http1.send(UpstreamRequest("POST", endpoint, HEADERS, body), TIMEOUTS)
        try:
            return await response.read()
        finally:
            await response.aclose()

    print(f"{'client':<22} {'mode':<7} {'p50 c=1':>9} {'CPU/req c=1':>12} {'req/s c=64':>11}")
    try:
        for mode, body in bodies().items():
            for name, call in (
                ("aiohttp.ClientSession", via_aiohttp),
                ("Http1Upstream", via_http1),
            ):
                p50, cpu_us, rps = await measure(call, body, requests)
                print(f"{name:<22} {mode:<7} {p50:>7.3f}ms {cpu_us:>9.0f} us {rps:>11,.0f}")
    finally:
        await session.close()
        await http1.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    mock = start_mock_provider()
    try:
        try:
            import uvloop

            uvloop.run(run(mock.url, args.requests))
        except ImportError:
            asyncio.run(run(mock.url, args.requests))
    finally:
        mock.stop()


if __name__ == "__main__":
    main()
