"""An in-process gateway over a fake upstream, for tests of what a request leaves behind
(headers, records): `open_gateway(tmp_path, config, policies, handler)`. The config's
`{digest}` is the sha256 of `KEY`."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx

from gateway.app import create_app
from gateway.config.load import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.services import Services
from gateway.upstream.fake import FakeHandler, FakeUpstream
from gateway.upstream.transports import NetworkClients
from tests.unit.http.fuzz_harness import FakeNetwork

KEY = "sk-app-harness"


@dataclass
class Gateway:
    client: httpx.AsyncClient  # sends `KEY`
    sink: MemorySink
    services: Services

    def records(self) -> list[dict[str, Any]]:
        """Every record so far (those still queued written first)."""
        self.services.records.write_pending()
        return self.sink.records

    async def background_done(self) -> None:
        """Wait for the work requests left running (cache stores), as shutdown does."""
        await asyncio.gather(*list(self.services._background))


@asynccontextmanager
async def open_gateway(
    root: Path, config: str, policies: dict[str, str], handler: FakeHandler
) -> AsyncIterator[Gateway]:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    (root / "config.toml").write_text(config.replace("{digest}", digest))
    (root / "policies").mkdir()
    for name, text in policies.items():
        (root / "policies" / f"{name}.toml").write_text(text)
    sink = MemorySink()
    app = create_app(load_config(root / "config.toml"), recorder=sink, watch_config=False)
    services: Services = app.state.services
    services.network = cast(NetworkClients, FakeNetwork(FakeUpstream(handler)))
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {KEY}"}
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=headers
        ) as client:
            yield Gateway(client, sink, services)
    finally:
        await services.aclose()
