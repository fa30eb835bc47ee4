"""Helpers of the routing e2e tests (test_routing.py, test_routing_failover.py): the gateway
config they write, the requests they send, what the mock and the records say served them."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import httpx

from tests.conditions import wait_until
from tests.e2e.records import read_records
from tests.procs import Proc, start_gateway

KEY = "sk-routing-test"
AUTH = {"authorization": f"Bearer {KEY}"}
KEY_BLOCK = f"""
[[keys]]
id = "routing"
key_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"
"""


def chat(model: str, content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def post(gateway: Proc, body: dict[str, Any], timeout: float = 10) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=timeout
    )


def stats(mock: Proc) -> dict[str, Any]:
    return dict(httpx.get(mock.url + "/_mock/stats").json())


def calls(mock: Proc, upstream_model: str) -> int:
    return int(stats(mock)["by_model"].get(upstream_model, 0))


def provider(name: str, mock: Proc) -> str:
    return f'[[providers]]\nname = "{name}"\ntype = "openai"\nbase_url = "{mock.url}/v1"\n'


def model(name: str, deployments: list[tuple[str, str, dict[str, Any]]], **fields: Any) -> str:
    lines = ["[[models]]", f'name = "{name}"']
    for field, value in fields.items():
        lines.append(f"{field} = {toml_value(value)}")
    for provider_name, upstream_model, extra in deployments:
        lines += [
            "[[models.deployments]]",
            f'provider = "{provider_name}"',
            f'model = "{upstream_model}"',
        ]
        lines += [f"{k} = {toml_value(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def write_config(tmp_path: Path, body: str, name: str = "config.toml") -> Path:
    config = tmp_path / name
    config.write_text(f'[logging]\npath = "{tmp_path / name}.jsonl"\n{body}{KEY_BLOCK}')
    return config


def run_gateway(tmp_path: Path, body: str, name: str = "config.toml") -> Proc:
    proc = start_gateway(write_config(tmp_path, body, name))
    proc.log_path = tmp_path / f"{name}.jsonl"
    return proc


async def fire(
    url: str, bodies: list[dict[str, Any]], concurrency: int = 16
) -> list[httpx.Response]:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def one(body: dict[str, Any]) -> httpx.Response:
            async with limit:
                return await client.post(url + "/v1/chat/completions", json=body, headers=AUTH)

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def served_by(responses: list[httpx.Response]) -> list[str]:
    """The deployment that answered each (successful) response, as its header says."""
    assert all(r.status_code == 200 for r in responses), [
        r.text for r in responses if r.status_code != 200
    ][:3]
    return [r.headers["x-gateway-deployment"] for r in responses]


def recorded_deployments(gateway: Proc, responses: list[httpx.Response]) -> list[str]:
    """The deployment each response's request record names, once all are written."""
    assert gateway.log_path is not None
    log_path = gateway.log_path
    wanted = [r.headers["x-request-id"] for r in responses]

    def all_written() -> dict[str, str] | None:
        by_id = {r["id"]: r["deployment"] for r in read_records(log_path)}
        return by_id if all(i in by_id for i in wanted) else None

    by_id = wait_until(all_written, 5, message="not every request was recorded")
    return [by_id[i] for i in wanted]
