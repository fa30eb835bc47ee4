"""What metrics and the request record cost per request (issue target: <= 0.1 ms p50).

Runs the real app in process (ASGI calls, the in-process mock provider, no sockets) on the
example config and times the end of each request: `finish_request` (settle the limits, queue
the record) and the record queue's write (build the record, hand it to the JSONL writer, update
every Prometheus metric), which a served gateway runs a moment later, off the response's path.

    python loadtests/record_cost.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from asgi_call import post
from starlette.types import ASGIApp

from gateway.app import create_app
from gateway.config import load_config
from gateway.http import endpoint
from gateway.observability.recorder import JsonlSink
from gateway.pipeline.context import RequestContext
from gateway.pipeline.finish import finish_request
from gateway.pipeline.services import Services

REPO = Path(__file__).resolve().parent.parent
BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}'
HEADERS = [(b"authorization", b"Bearer sk-demo"), (b"content-type", b"application/json")]


async def call(app: ASGIApp) -> None:
    await post(app, "/v1/chat/completions", BODY, HEADERS)


async def main(requests: int) -> None:
    sink = JsonlSink(Path(tempfile.mkdtemp()) / "records.jsonl")
    app = create_app(load_config(REPO / "config.example.toml"), recorder=sink, watch_config=False)
    timings: list[int] = []

    def timed(ctx: RequestContext, services: Services) -> None:
        started = time.perf_counter_ns()
        finish_request(ctx, services)
        services.records.write_pending()
        timings.append(time.perf_counter_ns() - started)

    # The endpoint calls the finish_request it imported: replace that one.
    setattr(endpoint, "finish_request", timed)
    for _ in range(requests):
        await call(app)
    sink.close()
    steady = sorted(timings[requests // 10 :])
    p50, p99 = steady[len(steady) // 2] / 1000, steady[int(len(steady) * 0.99)] / 1000
    verdict = "PASS" if p50 <= 100 else "MISS"
    print(
        f"record + metrics per request over {len(steady)} requests: "
        f"p50 {p50:.1f} us, p99 {p99:.1f} us (target p50 <= 100 us: {verdict})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10000)
    import uvloop

    uvloop.install()
    asyncio.run(main(parser.parse_args().requests))
