"""What the PII guardrail adds to a request: process CPU, in process (`pii_cpu.py --pipeline`).

One app (`create_app`, the in-process mock provider, no sockets) with two keys: `plain` (the
default policy: no guardrail) and `pii` (one PII guardrail, patterns engine, `redact` on the
input, as `features.py`'s `pii` variant). Both send the same chat bodies (~200 tokens with an
email, a phone number, an IPv4 address and dates), each with other values, so no cache can
flatter either. A round times N requests of one key with `time.process_time`, the record and
its metrics written after each (a served gateway writes them a moment later, in the same
process); rounds alternate which key goes first.
"""

from __future__ import annotations

import cProfile
import hashlib
import json
import pstats
import tempfile
import time
from pathlib import Path

from asgi_call import post, write_inprocess_config

from gateway.app import GatewayApp, create_app
from gateway.config import load_config
from gateway.observability.recorder import JsonlSink

KEYS = {"plain": "sk-pii-cpu-plain", "pii": "sk-pii-cpu-guarded"}
PII_POLICY = '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "input"\naction = "redact"\n'
MODEL = "mock-small"


def write_config(directory: Path) -> Path:
    keys = "".join(
        f'\n[[keys]]\nid = "{name}"\nkey_sha256 = "{hashlib.sha256(key.encode()).hexdigest()}"\n'
        + ('policy = "pii"\n' if name == "pii" else "")
        for name, key in KEYS.items()
    )
    (directory / "policies").mkdir()
    (directory / "policies" / "pii.toml").write_text(PII_POLICY)
    return write_inprocess_config(directory, MODEL, keys)


class Caller:
    """Chat requests to the app through ASGI, as a server would make them."""

    def __init__(self, app: GatewayApp) -> None:
        self.app = app
        self.statuses: dict[int, int] = {}

    async def call(self, key: str, body: bytes) -> None:
        headers = [
            (b"authorization", b"Bearer " + key.encode()),
            (b"content-type", b"application/json"),
        ]
        status = await post(self.app, "/v1/chat/completions", body, headers)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.app._services.records.write_pending()  # noqa: SLF001 - the record's CPU counts

    async def batch(self, key: str, bodies: list[bytes], requests: int) -> float:
        """Microseconds of process CPU per request over `requests` requests."""
        started = time.process_time()
        for i in range(requests):
            await self.call(key, bodies[i % len(bodies)])
        return (time.process_time() - started) / requests * 1e6


def bodies(texts: list[str]) -> list[bytes]:
    return [
        json.dumps({"model": MODEL, "messages": [{"role": "user", "content": t}]}).encode()
        for t in texts
    ]


async def measure(
    texts: list[str], rounds: int, requests: int, profile: bool
) -> tuple[list[float], list[float], dict[int, int]]:
    """CPU per request (us) per round without and with the guardrail, interleaved."""
    directory = Path(tempfile.mkdtemp(prefix="pii-cpu-"))
    config = load_config(write_config(directory))
    sink = JsonlSink(directory / "records.jsonl")
    app = create_app(config, recorder=sink, watch_config=False)
    caller = Caller(app)
    payloads = bodies(texts)
    for key in KEYS.values():
        await caller.batch(key, payloads, 200)  # warm-up: imports, caches, the first records
    plain: list[float] = []
    guarded: list[float] = []
    for number in range(rounds):
        order = ("plain", "pii") if number % 2 == 0 else ("pii", "plain")
        for name in order:
            us = await caller.batch(KEYS[name], payloads, requests)
            (plain if name == "plain" else guarded).append(us)
    if profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        await caller.batch(KEYS["pii"], payloads, requests)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats("gateway/", 40)
    sink.close()
    return plain, guarded, caller.statuses
