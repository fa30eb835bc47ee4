"""What metrics and the request record cost per request (issue target: <= 0.1 ms p50).

Runs the real app in process (ASGI calls, the in-process mock provider, no sockets) on the
example config and times `Services.finish` (build the record, hand it to the JSONL writer,
update every Prometheus metric, queue the spend settlement) for each request.

    python loadtests/record_cost.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import JsonlSink

REPO = Path(__file__).resolve().parent.parent
BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}'
HEADERS = [(b"authorization", b"Bearer sk-demo"), (b"content-type", b"application/json")]


async def call(app: Any) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": HEADERS,
        "query_string": b"",
    }
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        pass

    await app(scope, receive, send)


async def main(requests: int) -> None:
    sink = JsonlSink(Path(tempfile.mkdtemp()) / "records.jsonl")
    app = create_app(load_config(REPO / "config.example.toml"), recorder=sink, watch_config=False)
    services = app.state.services
    timings: list[int] = []
    finish = services.finish

    def timed(ctx: Any) -> None:
        started = time.perf_counter_ns()
        finish(ctx)
        timings.append(time.perf_counter_ns() - started)

    services.finish = timed
    for _ in range(requests):
        await call(app)
    sink.close()
    steady = sorted(timings[requests // 10 :])
    p50, p99 = steady[len(steady) // 2] / 1000, steady[int(len(steady) * 0.99)] / 1000
    verdict = "PASS" if p50 <= 100 else "MISS"
    print(
        f"record + metrics per request over {len(steady)} requests: p50 {p50:.1f} us, p99 {p99:.1f} us "
        f"(target p50 <= 100 us: {verdict})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10000)
    import uvloop

    uvloop.install()
    asyncio.run(main(parser.parse_args().requests))
