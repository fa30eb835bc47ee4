"""What one state-backend call costs, in process: memory vs. Redis, and Redis vs. a raw socket.

    python loadtests/state_calls.py [--calls N]

Starts a throwaway redis-server on loopback (`tests/redis_server.py`) and, in one asyncio loop
(uvloop when installed, as `gateway serve` runs), calls each operation the gateway makes per
request N times in a row, one at a time: the breaker read the router makes (without limits), a
limits acquire (rpm + tpm + max_concurrent, as loadtests/features.py's policy) that also reads the
breaker, the same followed by its settle (spend for a key and a team) queued in the background as
the limiter does, and a cache lookup; on `MemoryState` and on `RedisState`.
`RedisState` runs twice: through `gateway/state/redis/resp.py` (what `[state] client = "auto"`
picks on loopback) and through redis-py (`client = "redis-py"`); for scale the script also times
the RESP client's own `GET`, a Redis round trip over a bare asyncio stream (`PING`) and redis-py's
plain `GET`. Prints p50 latency and the process's CPU time per call.
docs/performance-history.md (diagnosis, item 6) explains what the figures mean for the request path.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import start_redis

from gateway.state import LimitCheck, RedisOptions, Settlement, StateBackend, create_state

DEPLOYMENT = "mock/mock-small"
CHECKS = [
    LimitCheck("key", "loadtest", "rpm", 1e8, 1),
    LimitCheck("key", "loadtest", "tpm", 1e11, 300),
    LimitCheck("key", "loadtest", "concurrent", 1e5, 1),
]
SPEND = (("key", "loadtest"), ("team", "perf"))


async def timed(label: str, call: Callable[[], Awaitable[object]], calls: int) -> None:
    for _ in range(min(200, calls)):
        await call()
    latencies = []
    cpu_before = time.process_time()
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - started)
    cpu_us = (time.process_time() - cpu_before) / calls * 1e6
    p50_us = statistics.median(latencies) * 1e6
    print(f"{label:<44} p50 {p50_us:7.0f} us   CPU {cpu_us:6.0f} us/call", flush=True)


async def backend_calls(name: str, state: StateBackend, calls: int) -> None:
    background: set[asyncio.Task[None]] = set()

    async def breaker() -> object:
        return await state.breaker_states([DEPLOYMENT], time.time())

    async def acquire_with_breaker() -> object:
        return await state.acquire(CHECKS, time.time(), [DEPLOYMENT])

    async def acquire_then_settle_in_background() -> object:
        # What a request with limits does: the acquire (with the breaker read) on the request
        # path, the settle queued off it (on Redis it rides with the next call's write).
        result = await state.acquire(CHECKS, time.time(), [DEPLOYMENT])
        assert result.reservation is not None
        settlement = Settlement(result.reservation, 280, 0.0001, SPEND)
        task = asyncio.get_running_loop().create_task(state.settle([settlement], time.time()))
        background.add(task)
        task.add_done_callback(background.discard)
        return result

    async def cache_get() -> object:
        return await state.get("no-such-entry", time.time())

    await timed(f"{name}: breaker_states (1 deployment)", breaker, calls)
    await timed(
        f"{name}: acquire + breaker read, settle (bg)", acquire_then_settle_in_background, calls
    )
    await asyncio.gather(*background)
    # Last: without settles, the held concurrency slots pile up.
    await timed(f"{name}: acquire + breaker read alone", acquire_with_breaker, calls)
    await timed(f"{name}: cache get (a miss)", cache_get, calls)


async def raw_calls(port: int, url: str, calls: int) -> None:
    import redis.asyncio

    from gateway.state.redis.resp import RespClient

    lean = RespClient(url)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def ping() -> object:
        writer.write(b"*1\r\n$4\r\nPING\r\n")
        return await reader.readline()

    client = redis.asyncio.Redis.from_url(url)
    await timed(
        "gateway.state.redis.resp client: GET", lambda: lean.execute("GET", "no-such-key"), calls
    )
    await timed("gateway.state.redis.resp client: PING", lambda: lean.execute("PING"), calls)
    await timed("raw asyncio stream: PING round trip", ping, calls)
    await timed("redis-py client: GET", lambda: client.get("no-such-key"), calls)
    writer.close()
    await client.aclose()
    await lean.aclose()


async def run(calls: int) -> None:
    server = start_redis()
    try:
        await backend_calls("memory", create_state("memory", None), calls)
        redis_state = create_state("redis", server.url)
        await backend_calls("redis", redis_state, calls)
        await redis_state.aclose()
        redis_py_state = create_state("redis", RedisOptions(url=server.url, client="redis-py"))
        await backend_calls("redis (redis-py)", redis_py_state, calls)
        await redis_py_state.aclose()
        await raw_calls(server.port, server.url, calls)
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000, help="calls per operation")
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args.calls))
    else:
        uvloop.run(run(args.calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
