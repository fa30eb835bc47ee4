"""The processes features.py sends load to (the mock directly, one gateway per variant), what
they counted around each measurement (the evidence that a feature was really on), and the checks
before measuring: complete answers, the cache turning a repeat into a hit, Redis's round trip."""

from __future__ import annotations

import socket
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from features_variants import FEATURE_BODIES, Variant
from harness import (
    PROVIDER_KEY,
    PROVIDER_KEY_ENV,
    Proc,
    metric_samples,
    process_cpu_seconds,
    start_gateway,
    write_config,
)
from load_common import HEADERS, check_answers, complete_answer, post


@dataclass
class Target:
    """Something the load is sent to: the mock directly, or one gateway variant."""

    name: str
    proc: Proc
    variant: Variant | None = None
    startup_s: float = 0.0
    log: Path | None = None


def start_variant(
    variant: Variant,
    tmp: Path,
    mock_url: str,
    redis_url: str | None,
    cpus: set[int] | None,
    provider_key: bool = False,
) -> Target:
    """Write the variant's config in a folder of its own under `tmp` and start its gateway
    (one worker); returns once the gateway answers /readyz. `provider_key`: its provider has a
    key (harness.PROVIDER_KEY), as a production config's has: every answer is scrubbed for it."""
    directory = tmp / variant.name.replace(" ", "-").replace("+", "-")
    config = write_config(
        directory,
        mock_url,
        policy=variant.policy,
        redis_url=redis_url if variant.redis else None,
        deployments=variant.deployments,
        strategy=variant.strategy,
        redis_client=variant.redis_client,
        provider_key_env=PROVIDER_KEY_ENV if provider_key else None,
    )
    started = start_gateway(config, 1, cpus, env={PROVIDER_KEY_ENV: PROVIDER_KEY})
    return Target(
        variant.name,
        started.proc,
        variant,
        started.startup_s,
        directory / "logs" / "requests.jsonl",
    )


class Counters:
    """What a gateway (and redis-server) counted, read before and after each measurement."""

    def __init__(self, redis_url: str | None, redis_pid: int | None) -> None:
        self.redis = None
        self.redis_pid = redis_pid
        if redis_url:
            import redis

            self.redis = redis.Redis.from_url(redis_url)

    def read(self, target: Target) -> dict[str, float]:
        if target.variant is None:
            return {}
        url = target.proc.url
        out: dict[str, float] = {}
        for labels, value in metric_samples(url, "gateway_requests_total").items():
            out["requests"] = out.get("requests", 0.0) + value
            deployment = _label(labels, "deployment")
            if target.variant.deployments > 1 and deployment:
                out[f"deployment {deployment}"] = out.get(f"deployment {deployment}", 0.0) + value
        for labels, value in metric_samples(url, "gateway_cache_events_total").items():
            out[f"cache {_label(labels, 'result')}"] = value
        out["refused"] = sum(metric_samples(url, "gateway_ratelimit_rejections_total").values())
        out["state errors"] = sum(metric_samples(url, "gateway_state_errors_total").values())
        if target.variant.redis and self.redis is not None and self.redis_pid is not None:
            stats = self.redis.info("commandstats")
            # Commands run inside Lua scripts count too: EVALSHA is one script (one round trip).
            out["redis commands"] = float(sum(int(v["calls"]) for v in stats.values()))
            out["redis scripts"] = float(stats.get("cmdstat_evalsha", {}).get("calls", 0))
            out["redis cpu s"] = process_cpu_seconds(self.redis_pid)
        return out


def _label(labels: str, name: str) -> str:
    marker = f'{name}="'
    start = labels.find(marker)
    if start < 0:
        return ""
    start += len(marker)
    return labels[start : labels.index('"', start)]


def describe(counted: dict[str, float]) -> str:
    """The evidence printed after a measurement: what the feature did per request."""
    requests = counted.get("requests", 0.0)
    if not requests:
        return ""
    parts = []
    hits, misses = counted.get("cache hit", 0.0), counted.get("cache miss", 0.0)
    if hits or misses:
        parts.append(f"cache hits {hits / requests:.1%} (misses {misses:.0f})")
    if counted.get("refused"):
        parts.append(f"REFUSED {counted['refused']:.0f}")
    if counted.get("state errors"):
        parts.append(f"STATE ERRORS {counted['state errors']:.0f}")
    if "redis commands" in counted:
        # The INFO of each read is counted too: one per measurement, negligible.
        parts.append(
            f"redis {counted['redis scripts'] / requests:.2f} EVALSHA/req, "
            f"{counted['redis commands'] / requests:.1f} commands/req in all"
        )
        parts.append(f"redis-server CPU {counted['redis cpu s'] * 1e6 / requests:.0f} us/req")
    shares = {k.split(" ", 1)[1]: v for k, v in counted.items() if k.startswith("deployment ")}
    if shares:
        parts.append(
            "deployments "
            + " / ".join(f"{k} {v / requests:.0%}" for k, v in sorted(shares.items()))
        )
    return "; ".join(parts)


def check_targets(mock_url: str, gateways: list[Target]) -> None:
    """Before measuring: a complete chat and stream answer from the mock and from every gateway
    (the cache variant: a miss first, then hits), or stop here."""
    check_answers(mock_url, "mock provider", FEATURE_BODIES)
    for target in gateways:
        if target.name == "cache":
            check_cache(target.proc.url)
        else:
            check_answers(target.proc.url, target.name, FEATURE_BODIES)


def check_cache(base_url: str) -> None:
    """Before measuring: each body's first answer is a miss, a repeat becomes a hit, and a hit
    is a complete answer (the stream's 20 chunks replayed)."""
    with httpx.Client(timeout=10.0, headers=HEADERS) as client:
        for mode, body in FEATURE_BODIES.items():
            seen = []
            for _ in range(50):  # the entry is stored after the answer: poll until it is there
                response = post(client, base_url, body)
                seen.append(response.headers.get("x-gateway-cache", "?"))
                if not complete_answer(mode, response.status_code, response.text):
                    raise SystemExit(
                        f"cache: {mode} answer incomplete: "
                        f"{response.status_code} {response.text[:500]}"
                    )
                if seen[-1] == "hit":
                    break
                time.sleep(0.02)
            if seen[0] != "miss" or seen[-1] != "hit":
                raise SystemExit(
                    f"cache: {mode}: x-gateway-cache went {seen}, expected miss ... hit"
                )


def redis_round_trip_us(port: int, pings: int = 2000) -> float:
    """p50 of a PING round trip from this process to redis-server over loopback TCP: how costly
    one cross-process hop is on the machine right now (it drifts; a Redis check makes one or
    two such hops per request)."""
    times = []
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(pings):
            started = time.perf_counter()
            conn.sendall(b"*1\r\n$4\r\nPING\r\n")
            conn.recv(64)
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6
