"""[server] max_inflight_body_bytes on a real gateway: while one client's large body is half
sent, another large body is refused on the wire with 503 `server_busy` in the JSON error shape
(read whole, no reset), and taken again once the first request has ended."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.conditions import wait_until
from tests.e2e.raw_client import connect, read_response
from tests.procs import Proc, start_gateway

KEY = "sk-body-budget"
MiB = 1024 * 1024


def config(upstream: str) -> str:
    return f"""
[server]
max_body_bytes = {16 * MiB}
max_inflight_body_bytes = {8 * MiB}

[[providers]]
name = "oai"
type = "openai"
base_url = "{upstream}/v1"

[[models]]
name = "gpt"
[[models.deployments]]
provider = "oai"
model = "mock-small"

[[keys]]
id = "k"
key_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"
"""


def prompt(size: int) -> bytes:
    text = "word " * (size // 5)
    return orjson.dumps(
        {"model": "gpt", "max_tokens": 5, "messages": [{"role": "user", "content": text}]}
    )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("bodies")
    (root / "config.toml").write_text(config(mock_upstream.url))
    proc = start_gateway(root / "config.toml")
    yield proc
    proc.stop()


def test_a_body_past_the_budget_is_refused_on_the_wire(gateway: Proc) -> None:
    held, other = prompt(6 * MiB), prompt(4 * MiB)
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    sock = connect(gateway)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(held)}\r\n\r\n"
    )
    sock.sendall(head.encode() + held[: 5 * MiB])  # 5 MiB held, the rest not sent yet
    with httpx.Client(base_url=gateway.url, timeout=30) as client:

        def refused() -> httpx.Response | None:
            answer = client.post("/v1/chat/completions", content=other, headers=headers)
            return answer if answer.status_code == 503 else None

        busy = wait_until(refused, 10, 0.05, "a second large body was never refused")
        assert busy.json()["error"]["code"] == "server_busy"
        assert busy.headers["retry-after"] == "1"
        sock.sendall(held[5 * MiB :])
        status, _, _ = read_response(sock)
        sock.close()
        assert status == 200
        again = client.post("/v1/chat/completions", content=other, headers=headers)
        assert again.status_code == 200
