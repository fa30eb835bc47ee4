"""A reload that changes a provider's network settings retires the pool the old ones used: it is
closed once the old config's longest request is over (it stayed open until the process ended)."""

from __future__ import annotations

from pathlib import Path

from gateway.app import create_app
from gateway.config import load_config
from gateway.config.provider_types import NetworkConfig
from gateway.pipeline.services import Services
from gateway.reload import Reloader
from gateway.upstream import FakeReply, FakeUpstream, UpstreamClient
from gateway.upstream.transports import NetworkClients
from tests.conditions import eventually

CONFIG = """
[server]
request_timeout_s = {timeout}

[[providers]]
name = "oai"
type = "openai"
base_url = "http://upstream.invalid/v1"
{network}

[[models]]
name = "gpt"
[[models.deployments]]
provider = "oai"
model = "m"
"""


class Pool(FakeUpstream):
    closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_a_reload_changing_a_providers_network_retires_its_old_pool(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    # The old config's requests end within 0.05 s: its pool may close 1.05 s after the reload.
    path.write_text(CONFIG.format(timeout=0.05, network=""))
    app = create_app(load_config(path, env={}), watch_config=False)
    services: Services = app.state.services
    pools: list[Pool] = []

    def make(network: NetworkConfig) -> UpstreamClient:
        pools.append(Pool(lambda request: FakeReply()))
        return pools[-1]

    services.network = NetworkClients(make)
    reloader = Reloader(services, path)
    try:
        old_pool = services.client_for(services.runtime.config.providers["oai"])
        path.write_text(CONFIG.format(timeout=600, network='transport = "httpx"'))
        assert (await reloader.reload("SIGHUP"))["result"] == "ok"
        assert not pools[0].closed  # the old config's requests may still use it
        new_pool = services.client_for(services.runtime.config.providers["oai"])
        assert new_pool is not old_pool
        await eventually(lambda: _closed(pools[0]), 10, message="the old pool is closed")
        assert not pools[1].closed
    finally:
        await services.aclose()


async def _closed(pool: Pool) -> bool:
    return pool.closed
