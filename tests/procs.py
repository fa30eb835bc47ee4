"""Start real processes for end-to-end tests: the gateway and the mock provider, on loopback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    process: subprocess.Popen[str]
    url: str
    log_path: Path | None = None
    output: list[str] = field(default_factory=list)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def _wait_line(
    process: subprocess.Popen[str], pattern: str, timeout: float, output: list[str]
) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                raise RuntimeError(f"process exited ({process.returncode}): {''.join(output)}")
            continue
        output.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise TimeoutError(f"no line matching {pattern!r} within {timeout}s: {''.join(output)}")


def _drain(process: subprocess.Popen[str], output: list[str]) -> None:
    """Keep reading the child's output so a chatty process never blocks on a full pipe."""

    def run() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)

    threading.Thread(target=run, daemon=True).start()


def _wait_ready(url: str, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + path, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url}{path} not ready within {timeout}s")


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def start_mock_provider(latency_ms: float = 0, tokens_per_s: float = 0) -> Proc:
    port = free_port()
    args = [sys.executable, "-m", "gateway.cli", "mock-provider", "--port", str(port)]
    args += ["--latency-ms", str(latency_ms), "--tokens-per-s", str(tokens_per_s)]
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(None), cwd=REPO
    )
    proc = Proc(process, f"http://127.0.0.1:{port}")
    _drain(process, proc.output)
    _wait_ready(proc.url, "/healthz", 15)
    return proc


def start_gateway(
    config_path: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Proc:
    args = [
        sys.executable,
        "-m",
        "gateway.cli",
        "serve",
        "--config",
        str(config_path),
        "--port",
        "0",
    ]
    args += ["--workers", str(workers)]
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(env),
        cwd=config_path.parent,
    )
    output: list[str] = []
    match = _wait_line(process, r"listening on (http://\S+)", 15, output)
    proc = Proc(process, match.group(1), output=output)
    _drain(process, output)
    _wait_ready(proc.url, "/readyz", 15)
    return proc
