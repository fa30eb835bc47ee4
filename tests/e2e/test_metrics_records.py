"""/metrics says exactly what the request records say, with 1 and 2 workers; SIGTERM loses
nothing."""

from __future__ import annotations

import asyncio
import hashlib
import signal
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conditions import wait_until
from tests.e2e.records import read_records, wait_for_records
from tests.procs import Proc, start_gateway, start_mock_provider

KEY, LIMITED = "sk-metrics-a", "sk-metrics-b"


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def write_config(root: Path, upstream: Proc) -> Path:
    (root / "policies").mkdir(exist_ok=True)
    (root / "policies" / "cached.toml").write_text('[cache]\nmode = "exact"\nttl_s = 600\n')
    (root / "policies" / "tight.toml").write_text("[limits]\nrpm = 2\n")
    config = root / "config.toml"
    config.write_text(f"""
[logging]
path = "records.jsonl"

[[providers]]
name = "mock"
type = "openai"
base_url = "{upstream.url}/v1"

[[models]]
name = "echo"
[[models.deployments]]
provider = "mock"
model = "echo"
input_cost_per_1m = 3.0
output_cost_per_1m = 15.0

[[models]]
name = "primary"
fallbacks = ["backup"]
max_attempts = 1
[[models.deployments]]
provider = "mock"
model = "fail-500"

[[models]]
name = "backup"
[[models.deployments]]
provider = "mock"
model = "backup-model"
input_cost_per_1m = 0.5
output_cost_per_1m = 1.5

[[keys]]
id = "a"
team = "red"
policy = "cached"
key_sha256 = "{sha(KEY)}"

[[keys]]
id = "b"
team = "blue"
policy = "tight"
key_sha256 = "{sha(LIMITED)}"
""")
    return config


@pytest.fixture(scope="module")
def upstream() -> Iterator[Proc]:
    proc = start_mock_provider()
    yield proc
    proc.stop()


def scripted_mix(url: str) -> int:
    """Misses, hits, errors, streams, fallbacks and rejections; returns how many requests."""

    def call(key: str, body: dict[str, Any]) -> None:
        response = httpx.post(
            url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {key}"},
            timeout=10,
        )
        response.read()

    count = 0
    for i in range(8):
        body = {
            "model": "echo",
            "messages": [{"role": "user", "content": f"question number {i} " * (i + 1)}],
        }
        call(KEY, body)  # miss
        call(KEY, body)  # hit (or a miss on the other worker)
        call(KEY, {**body, "stream": True, "stream_options": {"include_usage": True}})
        count += 3
    for i in range(4):
        call(
            KEY,
            {
                "model": "primary",
                "messages": [{"role": "user", "content": f"fall back please {i}"}],
            },
        )
        call(KEY, {"model": "nope", "messages": [{"role": "user", "content": "unknown"}]})
        call(KEY, {"model": "echo"})
        count += 3
    for _ in range(7):
        call(LIMITED, {"model": "backup", "messages": [{"role": "user", "content": "limited"}]})
        count += 1
    return count


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name].append((dict(sample.labels), sample.value))
    return out


def total(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(
        value
        for sample_labels, value in found.get(name, [])
        if all(sample_labels.get(k) == want for k, want in labels.items())
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_every_metric_matches_the_records(tmp_path: Path, upstream: Proc, workers: int) -> None:
    gateway = start_gateway(write_config(tmp_path, upstream), workers=workers)
    try:
        sent = scripted_mix(gateway.url)
        # Records are written and counted off the request path: wait for the last of them.
        wait_for_records(sent, tmp_path / "records.jsonl")

        def counted_all() -> dict[str, list[tuple[dict[str, str], float]]] | None:
            found = samples(httpx.get(gateway.url + "/metrics").text)
            return found if total(found, "gateway_requests_total") >= sent else None

        found = wait_until(counted_all, 5, message="/metrics did not count every request")
    finally:
        gateway.stop()
    records = read_records(tmp_path / "records.jsonl")
    assert len(records) == sent
    known = {"echo", "primary", "backup"}

    def label(record: dict[str, Any]) -> str:
        return record["model"] if record["model"] in known else "_unknown"

    by_series = Counter(
        (label(r), r["deployment"] or "none", str(r["status"]), r["cache"]) for r in records
    )
    for (model, deployment, status, cache), count in by_series.items():
        assert (
            total(
                found,
                "gateway_requests_total",
                model=model,
                deployment=deployment,
                status=status,
                cache=cache,
            )
            == count
        )
    assert total(found, "gateway_requests_total") == sent

    for kind in ("prompt", "completion"):
        sums: Counter[tuple[str, str]] = Counter()
        for r in records:
            sums[(label(r), r["deployment"] or "none")] += r[f"{kind}_tokens"]
        for (model, deployment), value in sums.items():
            assert (
                total(found, "gateway_tokens_total", model=model, deployment=deployment, kind=kind)
                == value
            )

    cost = sum(r["cost_usd"] for r in records)
    assert cost > 0 and total(found, "gateway_cost_usd_total") == pytest.approx(cost, abs=1e-9)
    for team in ("red", "blue"):
        team_cost = sum(r["cost_usd"] for r in records if r["team"] == team)
        assert total(found, "gateway_cost_usd_total", team=team) == pytest.approx(
            team_cost, abs=1e-9
        )

    fallbacks = sum(1 for r in records if r["fallback_used"])
    assert (
        fallbacks == 4
        and total(found, "gateway_fallbacks_total", from_model="primary", to_model="backup") == 4
    )
    rejected = sum(1 for r in records if r["error_type"] == "rate_limit_exceeded")
    assert (
        rejected >= 7 - 2 * workers
        and total(found, "gateway_ratelimit_rejections_total") == rejected
    )
    hits = sum(1 for r in records if r["cache"] == "hit")
    assert hits >= 1 and total(found, "gateway_cache_events_total", result="hit") == hits
    upstream_errors = Counter(  # a client leaving is no upstream failure
        (a["deployment"], a["error"])
        for r in records
        for a in r["attempts"]
        if a["error"] and a["error"] != "client_closed"
    )
    for (deployment, kind), count in upstream_errors.items():
        assert (
            total(found, "gateway_upstream_errors_total", deployment=deployment, kind=kind) == count
        )
    for model in known:
        count = sum(1 for r in records if r["model"] == model)
        assert total(found, "gateway_request_duration_seconds_count", model=model) == count
    streams = sum(1 for r in records if r["stream"] and r["ttft_ms"] is not None)
    assert total(found, "gateway_time_to_first_token_seconds_count") == streams
    assert total(found, "gateway_overhead_seconds_count") == sent


def test_sigterm_drains_in_flight_streams(tmp_path: Path) -> None:
    slow = start_mock_provider(tokens_per_s=20)
    gateway = start_gateway(write_config(tmp_path, slow))
    url = gateway.url + "/v1/chat/completions"
    started = asyncio.Event()

    async def one(client: httpx.AsyncClient, counter: list[int]) -> bytes:
        body = {
            "model": "backup",
            "messages": [{"role": "user", "content": "stream"}],
            "stream": True,
        }
        async with client.stream(
            "POST", url, json=body, headers={"authorization": f"Bearer {KEY}"}
        ) as response:
            pieces: list[bytes] = []
            async for piece in response.aiter_bytes():
                if not pieces:
                    counter[0] += 1
                    if counter[0] == 200:
                        started.set()
                pieces.append(piece)
            return b"".join(pieces)

    async def run() -> list[bytes]:
        counter = [0]
        async with httpx.AsyncClient(
            timeout=60, limits=httpx.Limits(max_connections=200)
        ) as client:
            tasks = [asyncio.create_task(one(client, counter)) for _ in range(200)]
            await asyncio.wait_for(started.wait(), 30)
            gateway.process.send_signal(signal.SIGTERM)
            return list(await asyncio.gather(*tasks))

    try:
        bodies = asyncio.run(run())
        assert gateway.process.wait(30) in (0, -signal.SIGTERM)
    finally:
        gateway.stop()
        slow.stop()
    assert all(body.endswith(b"data: [DONE]\n\n") for body in bodies), "every stream finished"
    records = read_records(tmp_path / "records.jsonl")
    assert len(records) == 200 and all(
        r["status"] == 200 and r["error_type"] is None for r in records
    )
