"""The mock provider started directly (`gateway.mock_provider.server.run`) in its own process,
for test_mock_provider_*.py, which speak to it with the official SDKs and with httpx.

The running pair is the `mock_servers` fixture in conftest.py, started once for both files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conditions import wait_until
from tests.procs import free_port

REPO = Path(__file__).resolve().parents[2]
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Tell me about llamas."},
]


@dataclass
class MockServer:
    """A mock provider process, its base URL once listening, and its output so far."""

    process: subprocess.Popen[str]
    url: str = ""
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def stats(self) -> dict[str, Any]:
        """What the server counted and saw (`GET /_mock/stats`)."""
        return dict(httpx.get(self.url + "/_mock/stats").json())


def _spawn(**options: float) -> MockServer:
    port = free_port()
    arguments = ", ".join(f"{name}={value!r}" for name, value in {"port": port, **options}.items())
    code = f"from gateway.mock_provider.server import run; run({arguments})"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
    )
    server = MockServer(process)

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            server.output.append(line)

    server.reader = threading.Thread(target=drain, daemon=True)
    server.reader.start()
    return server


def _wait_listening(server: MockServer, timeout: float = 15.0) -> None:
    def listening_line() -> str | None:
        assert server.process.poll() is None, f"mock provider exited: {''.join(server.output)}"
        prefix = "mock provider listening on "
        return next((line for line in server.output if line.startswith(prefix)), None)

    server.url = wait_until(listening_line, timeout, 0.02, "mock provider did not start").split()[
        -1
    ]
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}


def _stop(server: MockServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(5)
    if server.reader is not None:
        server.reader.join(5)
    if server.process.stdout is not None:
        server.process.stdout.close()


@contextmanager
def running_mock_servers() -> Iterator[tuple[MockServer, MockServer]]:
    """An unpaced server and one streaming 20 tokens/s, started side by side; both stopped at
    the end, which fails if either printed a traceback."""
    fast, slow = _spawn(), _spawn(tokens_per_s=20)
    try:
        _wait_listening(fast)
        _wait_listening(slow)
        yield fast, slow
    finally:
        _stop(fast)
        _stop(slow)
    assert not any("Traceback" in line for line in fast.output + slow.output), "".join(
        fast.output + slow.output
    )


def chat_body(model: str, **extra: Any) -> dict[str, Any]:
    """A chat completion body for `model` with one short user message."""
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
