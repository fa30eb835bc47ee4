"""The gateway of the several-workers tests: two models (`slow` on a mock provider sending one
token a second, `fast` in process), one key, an admin key; and how a test finds its workers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.json_types import JSON
from tests.procs import Proc, start_mock_provider

KEY = "sk-workers-test"
ADMIN_KEY = "admin-workers-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ENV = {"WORKERS_ADMIN_KEY": ADMIN_KEY}


def write_config(root: Path, upstream: Proc) -> Path:
    config = root / "config.toml"
    config.write_text(f"""
[logging]
path = "records.jsonl"

[admin]
key_env = "WORKERS_ADMIN_KEY"

[[providers]]
name = "slow"
type = "openai"
base_url = "{upstream.url}/v1"

[[models]]
name = "slow"
[[models.deployments]]
provider = "slow"
model = "mock-small"

[[providers]]
name = "inproc"
type = "mock"

[[models]]
name = "fast"
[[models.deployments]]
provider = "inproc"
model = "mock-small"

[[keys]]
id = "k"
key_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"
""")
    return config


@pytest.fixture(scope="module")
def slow_upstream() -> Iterator[Proc]:
    """One token a second: a stream stays open while the test looks at it. A test module that
    binds this name uses it in place of the session's (tests/e2e/conftest.py)."""
    proc = start_mock_provider(tokens_per_s=1)
    yield proc
    proc.stop()


def worker_pids(gateway: Proc) -> set[int]:
    status: JSON = httpx.get(gateway.url + "/admin/config/status", headers=ADMIN, timeout=30).json()
    return {int(worker["pid"]) for worker in status["workers"]}


def two_workers(gateway: Proc) -> set[int]:
    """The pids of the two workers, or none while there are not two."""
    pids = worker_pids(gateway)
    return pids if len(pids) == 2 else set()


def replaced(gateway: Proc, old: set[int]) -> bool:
    """Two workers serve, none of them one of `old`. (A connection a killed worker had taken
    from the shared socket is reset: not replaced yet.)"""
    try:
        pids = two_workers(gateway)
    except httpx.TransportError:
        return False
    return bool(pids) and not pids & old


def chat(gateway: Proc) -> None:
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 200
