"""Where replayed requests go: a gateway in this process, or one at a URL.

In-process, the app is built from a config with `create_app` and reached through
`httpx.ASGITransport` (its lifespan runs around the replay). Its request records go to a
capture sink instead of the config's log, so a replay never writes into production logs, and
the runner reads the new request's latency, tokens and cost from the gateway's own record.
Without `--key`, an ephemeral key is added whose policy has no limits and no cache, so the
replay measures the model, not the limits.

At a URL, latency is measured by the client and cost is computed from the response's usage
and the prices in `--config` when one is given (otherwise cost is unknown).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import httpx
from starlette.types import ASGIApp, Message

from gateway.config import (
    DeploymentConfig,
    GatewayConfig,
    KeyConfig,
    LoggingConfig,
    PolicyConfig,
    hash_key,
)
from gateway.observability.body_scrub import scrub_bodies
from gateway.observability.log_reader import UsageError
from gateway.scrub import Secrets

REPLAY_KEY_ID = "replay"
REPLAY_POLICY = "_replay"
IN_PROCESS_URL = "http://gateway.in-process"


@dataclass
class Target:
    client: httpx.AsyncClient
    describe: str
    # The gateway's record of a request by its id (in-process only); popped when read.
    take_record: Callable[[str], dict[str, Any] | None]
    # Deployment name (`provider/model`) -> its prices, for cost when there is no record.
    deployments: Mapping[str, DeploymentConfig]
    # Seconds a whole request may take, answer read included (`--timeout`); None: no deadline.
    # httpx's own timeout bounds each read, so an answer that trickles in would never end.
    deadline_s: float | None = None


class CaptureSink:
    """A record sink that keeps records by request id until the runner takes them."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    def write(self, record: dict[str, Any], body_secrets: Secrets | None = None) -> None:
        kept = record if body_secrets is None else scrub_bodies(record, body_secrets)
        self.records[str(record.get("id"))] = kept

    def reconfigure(self, settings: LoggingConfig) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self, request_id: str) -> dict[str, Any] | None:
        return self.records.pop(request_id, None)


def deployments_by_name(config: GatewayConfig | None) -> dict[str, DeploymentConfig]:
    if config is None:
        return {}
    return {d.name: d for m in config.models.values() for d in m.deployments}


def with_replay_key(config: GatewayConfig) -> tuple[GatewayConfig, str]:
    """The config plus an ephemeral key (all models, no limits, no cache) and its secret."""
    secret = "sk-replay-" + secrets.token_hex(16)
    key = KeyConfig(
        id=REPLAY_KEY_ID, key_sha256=hash_key(secret), team=REPLAY_KEY_ID, policy=REPLAY_POLICY
    )
    policies = dict(config.policies)
    policies[REPLAY_POLICY] = PolicyConfig(REPLAY_POLICY)
    replaced = dataclasses.replace(
        config, keys=(*config.keys, key), policies=MappingProxyType(policies)
    )
    return replaced, secret


def _headers(key: str) -> dict[str, str]:
    # no-cache / no-store: a replay measures the model, never the gateway's response cache.
    return {"authorization": f"Bearer {key}", "cache-control": "no-cache, no-store"}


@contextlib.asynccontextmanager
async def in_process(
    config: GatewayConfig, key: str | None, timeout_s: float
) -> AsyncIterator[Target]:
    from gateway.app import create_app

    source = config.source
    if key is None:
        config, key = with_replay_key(config)
    sink = CaptureSink()
    # No config watching: a reload would drop the ephemeral key in the middle of a replay.
    app = create_app(config, recorder=sink, watch_config=False)
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=IN_PROCESS_URL, headers=_headers(key), timeout=timeout_s
        ) as client:
            await _wait_ready(client)
            yield Target(
                client,
                f"in-process gateway ({source})",
                sink.take,
                deployments_by_name(config),
                timeout_s,
            )


@contextlib.asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run an ASGI app's lifespan (startup, then shutdown on exit) over the ASGI protocol itself."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: Message) -> None:
        await outbox.put(message)

    async def run() -> None:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    task = asyncio.create_task(run())
    await inbox.put({"type": "lifespan.startup"})
    getter = asyncio.ensure_future(outbox.get())
    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
    if not getter.done():
        getter.cancel()
        task.result()  # the app ended its lifespan early: raise what it raised
        raise RuntimeError("the gateway ended its lifespan before starting up")
    started = getter.result()
    if started["type"] != "lifespan.startup.complete":
        task.cancel()
        raise RuntimeError(f"the gateway did not start: {started.get('message', started['type'])}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


async def _wait_ready(client: httpx.AsyncClient, timeout_s: float = 15.0) -> None:
    """Wait for /readyz (the tokenizer is loaded), so the first replayed latencies are fair."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (await client.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.02)


def normalize_base_url(url: str) -> str:
    """`http://host:port` from `http://host:port/v1/`; UsageError for a URL with credentials
    (`user:pass@`): httpx would send them as Basic auth in place of the gateway key, and the
    report and the summary would print them."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise UsageError("--base-url is no URL (give http://host:port)") from None
    if parsed.userinfo:
        raise UsageError(
            "--base-url must not carry credentials (user:password@): the gateway key goes in "
            "--key or $GATEWAY_API_KEY"
        )
    url = url.rstrip("/")
    return url.removesuffix("/v1")


@contextlib.asynccontextmanager
async def remote(
    base_url: str, key: str, config: GatewayConfig | None, timeout_s: float, concurrency: int
) -> AsyncIterator[Target]:
    url = normalize_base_url(base_url)
    limits = httpx.Limits(
        max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2
    )
    async with httpx.AsyncClient(
        base_url=url, headers=_headers(key), timeout=timeout_s, limits=limits
    ) as client:
        yield Target(client, url, lambda request_id: None, deployments_by_name(config), timeout_s)
