"""Processes for the load tests: the mock provider and the gateway, each in its own process.

Not a test module: `loadtests/overhead.py` imports it. Everything runs on loopback.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
GATEWAY_KEY = "sk-loadtest-key"
# The provider key of the benchmarks that give their providers one (`features.py
# --provider-key`, `served_cpu.py`'s variant `keyed`): in the gateway's environment, named by
# `write_config(provider_key_env=...)`. No provider's shape; the mock ignores it.
PROVIDER_KEY_ENV = "LOADTEST_PROVIDER_KEY"
PROVIDER_KEY = "loadtest-provider-credential-0123456789"
MODEL = (
    "mock-small"  # the public model name equals the upstream model, so both bodies are identical
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def cpu_affinity(cpus: set[int] | None) -> Iterator[None]:
    """Run the block (and so every child spawned in it) on `cpus`; children inherit affinity."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@dataclass
class Proc:
    process: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        """Resident memory of the process and its children (uvicorn workers when --workers > 1)."""
        try:
            proc = psutil.Process(self.pid)
            total = int(proc.memory_info().rss)
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += int(child.memory_info().rss)
            return total
        except psutil.Error:
            return 0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its children so far."""
        try:
            proc = psutil.Process(self.pid)
            times = proc.cpu_times()
            total = float(times.user + times.system)
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child_times = child.cpu_times()
                    total += float(child_times.user + child_times.system)
            return total
        except psutil.Error:
            return 0.0

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)

    def tail(self, lines: int = 30) -> str:
        return "".join(self.output[-lines:])


def drain_output(process: subprocess.Popen[str], output: list[str]) -> None:
    def run() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            del output[:-200]  # keep the tail only

    threading.Thread(target=run, daemon=True).start()


def child_env() -> dict[str, str]:
    """A child's environment: unbuffered, importing `gateway` from this checkout (a gateway runs
    in its config's directory, where `python -m` would find whichever `gateway` the venv
    installed) unless PYTHONPATH names a tree already (`compare.py` runs these scripts so, and
    `served_cpu.py` gives each gateway its own)."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONPATH", str(REPO))
    return env


# A Python process run under valgrind, counting the instructions it executes (`I refs`, which
# the machine's load does not move); `instructions_counted` reads them from its stderr.
UNDER_VALGRIND = [
    "valgrind",
    "--tool=cachegrind",
    "--cache-sim=no",
    "--cachegrind-out-file=/dev/null",
    sys.executable,
]


def instructions_counted(stderr: str) -> int:
    found = re.search(r"I\s+refs:\s+([\d,]+)", stderr)
    assert found is not None, stderr[-2000:]
    return int(found.group(1).replace(",", ""))


def http_status(url: str, path: str, timeout: float = 1.0) -> int:
    """GET url+path with the stdlib (cheap enough to poll every few milliseconds)."""
    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return int(response.status)
    finally:
        conn.close()


def wait_ready(proc: Proc, path: str, timeout: float, interval: float = 0.005) -> float:
    """Poll until `path` answers 200; return the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"process exited ({proc.process.returncode}):\n{proc.tail()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if http_status(proc.url, path) == 200:
                return time.monotonic()
        time.sleep(interval)
    raise TimeoutError(f"{proc.url}{path} not ready within {timeout}s:\n{proc.tail()}")


def start_mock_provider(cpus: set[int] | None = None) -> Proc:
    port = free_port()
    args = ["-m", "gateway.cli", "mock-provider", "--port", str(port), "--latency-ms", "0"]
    return start_server(args, port, cpus)


def start_server(args: list[str], port: int, cpus: set[int] | None = None) -> Proc:
    """`python <args>` serving HTTP on loopback `port`, pinned to `cpus`, once its /healthz
    answers; its output is collected."""
    with cpu_affinity(cpus):
        process = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_env(),
            cwd=REPO,
        )
    proc = Proc(process, f"http://127.0.0.1:{port}")
    drain_output(process, proc.output)
    wait_ready(proc, "/healthz", 30)
    return proc


def write_config(
    directory: Path,
    upstream_url: str,
    *,
    policy: str = "",
    redis_url: str | None = None,
    deployments: int = 1,
    strategy: str | None = None,
    transport: str = "auto",
    proxy: str | None = None,
    redis_client: str = "auto",
    tracing_endpoint: str | None = None,
    log_backups: int | None = None,
    provider_key_env: str | None = None,
) -> Path:
    """The default pipeline: auth, routing, request record, metrics; no policy limits, no cache.

    The options turn features on for `loadtests/features.py`: `policy` is written as the key's
    policy (`policies/default.toml`: `[limits]`, `[cache]`, ...), `redis_url` sets
    `[state] backend = "redis"`, and `deployments` > 1 gives the model that many deployments,
    each behind its own provider entry pointing at the same upstream, picked by `strategy`.
    `transport` is the providers' upstream client (`overhead.py --transport httpx`), `proxy`
    their `proxy` setting (`overhead.py --proxy`),
    `redis_client` the Redis client (`[state] client`: auto, redis-py or resp),
    `tracing_endpoint` turns `[tracing]` on towards that OTLP/HTTP endpoint, `log_backups` keeps
    that many rotated request logs (the soak counts every record of a long run),
    `provider_key_env` gives the providers a key (`api_key_env`: the gateway then scrubs its
    answers for it, as a production config's gateway does; the mock ignores it).
    """
    key_sha = hashlib.sha256(GATEWAY_KEY.encode()).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.toml"
    state = (
        f'\n[state]\nbackend = "redis"\nredis_url = "{redis_url}"\nclient = "{redis_client}"\n'
        if redis_url
        else ""
    )
    providers = "".join(
        f"""
[[providers]]
name = "{_provider_name(n)}"
type = "openai"
base_url = "{upstream_url}/v1"
transport = "{transport}"
responses = true
{f'proxy = "{proxy}"' if proxy else ""}
{f'api_key_env = "{provider_key_env}"' if provider_key_env else ""}
"""
        for n in range(deployments)
    )
    model = f'\n[[models]]\nname = "{MODEL}"\n'
    if strategy:
        model += f'strategy = "{strategy}"\n'
    model += "".join(
        f"""[[models.deployments]]
provider = "{_provider_name(n)}"
model = "{MODEL}"
input_cost_per_1m = 0.15
output_cost_per_1m = 0.60
"""
        for n in range(deployments)
    )
    config.write_text(
        f"""# written by loadtests/ (harness.write_config)
[server]
host = "127.0.0.1"
{state}
[logging]
path = "{directory / "logs" / "requests.jsonl"}"
{_backups(log_backups)}{_tracing(tracing_endpoint)}{providers}{model}
[[keys]]
id = "loadtest"
team = "perf"
key_sha256 = "{key_sha}"
"""
    )
    if policy:
        (directory / "policies").mkdir(exist_ok=True)
        (directory / "policies" / "default.toml").write_text(policy)
    return config


def _backups(count: int | None) -> str:
    return "" if count is None else f"backups = {count}\n"


def _tracing(endpoint: str | None) -> str:
    return f'\n[tracing]\nendpoint = "{endpoint}"\n' if endpoint else ""


def _provider_name(n: int) -> str:
    return "mock" if n == 0 else f"mock{n + 1}"


def start_redis(cpus: set[int] | None = None) -> Any:
    """A throwaway redis-server on a free loopback port (`tests/redis_server.py`'s `start_redis`:
    no persistence); `.url`, `.process` and `.stop()`."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.redis_server import start_redis as start

    with cpu_affinity(cpus):
        return start()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0.0 once it is gone)."""
    try:
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    except psutil.Error:
        return 0.0


@dataclass
class GatewayStart:
    proc: Proc
    startup_s: float  # spawn -> /readyz 200
    listening_s: float  # spawn -> the "listening on" line


def start_gateway(
    config: Path,
    workers: int = 1,
    cpus: set[int] | None = None,
    env: dict[str, str] | None = None,
) -> GatewayStart:
    """`env`: extra environment variables (`workers.py` names the metrics directory)."""
    args = [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--port", "0"]
    args += ["--workers", str(workers)]
    started = time.monotonic()
    with cpu_affinity(cpus):
        process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_env() | (env or {}),
            cwd=config.parent,
        )
    output: list[str] = []
    assert process.stdout is not None
    url = None
    deadline = started + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                raise RuntimeError(f"gateway exited ({process.returncode}):\n{''.join(output)}")
            continue
        output.append(line)
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        process.kill()
        raise TimeoutError(f"gateway printed no 'listening on' line:\n{''.join(output)}")
    listening = time.monotonic()
    proc = Proc(process, url, output)
    drain_output(process, output)
    ready = wait_ready(proc, "/readyz", 30)
    return GatewayStart(proc, ready - started, listening - started)


def metric_total(url: str, name: str) -> float:
    """Sum every sample of one counter from GET /metrics (used to follow the soak's progress)."""
    return sum(metric_samples(url, name).values())


def metric_samples(url: str, name: str) -> dict[str, float]:
    """Every sample of one metric from GET /metrics, by its label text (`'{result="hit"}'`)."""
    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")):
            labels, _, value = line[len(name) :].rpartition(" ")
            samples[labels.strip()] = samples.get(labels.strip(), 0.0) + float(value)
    return samples


def request_log_summary(path: Path) -> dict[str, int]:
    """Records per status/error_type in the gateway's request log (one JSON line per request),
    its rotated files (`path.1`, ...: 100 MB each by default) included."""
    import json

    counts: dict[str, int] = {}
    files = [path, *sorted(path.parent.glob(path.name + ".[0-9]*"))] if path.exists() else []
    for name in files:
        with name.open() as handle:
            for line in handle:
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    key = str(record.get("status"))
                    if record.get("error_type"):
                        key += f" {record['error_type']}"
                    counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
