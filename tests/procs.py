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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conditions import wait_until

REPO = Path(__file__).resolve().parent.parent
# The processes started since the current test's setup began (tests/e2e/conftest.py empties it
# then): a failing test's report shows the end of what each of them printed.
STARTED: list[Proc] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    """A child process serving HTTP at `url`; its output is collected in `output`."""

    process: subprocess.Popen[str]
    url: str = ""
    log_path: Path | None = None
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = field(default=None, repr=False)

    def drain(self) -> None:
        """Keep reading the child's output so a chatty process never blocks on a full pipe."""

        def run() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)

        self.reader = threading.Thread(target=run, daemon=True)
        self.reader.start()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send `sig`, wait (killing the process after `timeout` s), close its pipe; the
        exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._close_pipe()
        return self.process.returncode

    def _close_pipe(self) -> None:
        if self.reader is not None:
            self.reader.join(5)  # it ends at the pipe's end of file
            if self.reader.is_alive():
                return  # a grandchild still holds the pipe: closing it now would block on the read
        if self.process.stdout is not None:
            self.process.stdout.close()


def _wait_line(proc: Proc, pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    stdout = proc.process.stdout
    assert stdout is not None
    while time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            if proc.process.poll() is not None:
                code = proc.process.returncode
                raise RuntimeError(f"process exited ({code}): {''.join(proc.output)}")
            continue
        proc.output.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise TimeoutError(f"no line matching {pattern!r} within {timeout}s: {''.join(proc.output)}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def child_env(extra: dict[str, str] | None) -> dict[str, str]:
    """The child's environment: it imports `gateway` from this checkout (its cwd is a temporary
    directory, where `python -m` would find whichever `gateway` the venv installed, maybe
    another checkout's), unbuffered, with `extra`."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def _spawn(args: list[str], env: dict[str, str] | None, cwd: Path) -> Proc:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env(env),
        cwd=cwd,
    )
    proc = Proc(process)
    STARTED.append(proc)
    return proc


def _ready(proc: Proc, path: str, timeout_s: float) -> Proc:
    wait_until(lambda: _answers(proc.url + path), timeout_s, 0.02, f"{proc.url}{path} not ready")
    return proc


def start_mock_provider(latency_ms: float = 0, tokens_per_s: float = 0) -> Proc:
    port = free_port()
    args = ["mock-provider", "--port", str(port)]
    args += ["--latency-ms", str(latency_ms), "--tokens-per-s", str(tokens_per_s)]
    proc = _spawn(args, None, REPO)
    proc.url = f"http://127.0.0.1:{port}"
    try:
        proc.drain()
        return _ready(proc, "/healthz", 15)
    except BaseException:
        proc.stop(signal.SIGKILL)
        raise


def start_gateway(
    config_path: Path,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    ready_timeout_s: float = 15,
) -> Proc:
    """A gateway serving `config_path` on a free port, once its /readyz answers 200."""
    (proc,) = start_gateways(
        [config_path], workers=workers, env=env, ready_timeout_s=ready_timeout_s
    )
    return proc


def start_logged_gateway(root: Path, config: Callable[[Path], str]) -> Proc:
    """A gateway serving the config `config` writes for the request log it is given (written
    to `root/gateway.toml`, the log at `root/requests.jsonl`: the Proc's `log_path`)."""
    log = root / "requests.jsonl"
    (root / "gateway.toml").write_text(config(log))
    proc = start_gateway(root / "gateway.toml")
    proc.log_path = log
    return proc


def start_gateways(
    config_paths: Sequence[Path],
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    ready_timeout_s: float = 15,
) -> list[Proc]:
    """One gateway per config, started side by side (a start is mostly imports: ~1 s of CPU)."""
    procs = [
        _spawn(
            ["serve", "--config", str(path), "--port", "0", "--workers", str(workers)],
            env,
            path.parent,
        )
        for path in config_paths
    ]
    try:
        for proc in procs:
            proc.url = _wait_line(proc, r"listening on (http://\S+)", 15).group(1)
            proc.drain()
        return [_ready(proc, "/readyz", ready_timeout_s) for proc in procs]
    except BaseException:
        for proc in procs:
            proc.stop(signal.SIGKILL)
        raise
