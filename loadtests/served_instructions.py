"""Instructions per served request (valgrind), by variant: what a feature costs a real gateway,
through uvicorn and sockets, without the noise of a shared machine.

    python loadtests/served_instructions.py [--variants default,limits] [--requests 1500]
                                            [--mode chat|stream]
                                            [--gateway NAME=TREE:VARIANT ...]

For each variant (features_variants.py's policies: `default` has none, `limits` the key limits
that never bind, `pii` the PII guardrail), starts the mock provider (not measured) and, twice,
`gateway serve` under `valgrind --tool=cachegrind`; sends `--warmup` requests, then `--requests`
(the first run) or twice that (the second), one at a time on one keep-alive connection, and
stops the gateway. The instructions per request are the difference of the two runs' totals over
the difference of their requests, so start-up, warm-up and shutdown cancel out. A gateway under
valgrind runs ~50x slower, so a run takes a minute or two; the count does not move with the
machine's load (its noise is a few thousand instructions per request).

`--gateway NAME=TREE:VARIANT` (repeated; replaces `--variants`) counts source trees side by side
as `served_cpu.py` runs them: TREE's `gateway` package, VARIANT one of served_cpu.py's (the
Redis ones on a throwaway redis-server, not under valgrind; a reply the slowed gateway waits for
still comes in time). The first is the baseline of the `added` column. This is how a change's
cost is measured when the machine is too noisy for CPU times.
"""

from __future__ import annotations

import argparse
import http.client
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    GATEWAY_KEY,
    REPO,
    UNDER_VALGRIND,
    child_env,
    free_port,
    instructions_counted,
    start_mock_provider,
    start_redis,
    write_config,
)
from load_common import BODIES
from served_cpu import POLICIES, REDIS_CLIENTS, Served, parse_gateway

HEADERS = {"authorization": f"Bearer {GATEWAY_KEY}", "content-type": "application/json"}


def wait_healthy(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("the gateway under valgrind did not answer /healthz")


def instructions(config: Path, body: bytes, requests: int, tree: Path = REPO) -> int:
    """Total instructions of one gateway process (of `tree`'s `gateway` package) that served
    `requests` requests."""
    port = free_port()
    command = [
        *UNDER_VALGRIND,
        "-m",
        "gateway.cli",
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env() | {"PYTHONPATH": str(tree)},
    )
    try:
        wait_healthy(port, 300)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(requests):
            conn.request("POST", "/v1/chat/completions", body=body, headers=HEADERS)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        conn.close()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=300)
    return instructions_counted(err)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default="default,limits")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--mode", choices=("chat", "stream"), default="chat")
    parser.add_argument("--gateway", action="append", type=parse_gateway, default=[])
    args = parser.parse_args(argv)
    body = BODIES[args.mode]
    gateways: list[Served] = args.gateway or [
        Served(name, REPO, name) for name in args.variants.split(",")
    ]
    mock = start_mock_provider()
    redis = start_redis() if any(g.variant in REDIS_CLIENTS for g in gateways) else None
    root = Path(tempfile.mkdtemp(prefix="served-instructions-"))
    counts: dict[str, float] = {}
    try:
        for number, served in enumerate(gateways):
            config = write_config(
                root / str(number),
                mock.url,
                policy=POLICIES[served.variant],
                redis_url=redis.url if redis and served.variant in REDIS_CLIENTS else None,
                redis_client=REDIS_CLIENTS.get(served.variant, "auto"),
            )
            few = instructions(config, body, args.warmup + args.requests, served.tree)
            many = instructions(config, body, args.warmup + 2 * args.requests, served.tree)
            counts[served.name] = (many - few) / args.requests
            added = f"  added {counts[served.name] - counts[gateways[0].name]:+,.0f}"
            print(
                f"  {served.name:<10} {counts[served.name]:,.0f} instructions per request{added}"
                f"  ({served.variant}, {served.tree})",
                flush=True,
            )
    finally:
        mock.process.terminate()
        if redis is not None:
            redis.stop()
    print(f"(served, {args.mode}, c = 1, valgrind)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
