"""Which transport serves a provider (`auto`'s choice), and one client per network config."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

import pytest

from gateway.config.entra_types import EntraConfig
from gateway.config.provider_types import NetworkConfig, ProviderConfig
from gateway.upstream import FakeReply, FakeUpstream, UpstreamClient
from gateway.upstream.httpx_transport import HttpxUpstream
from gateway.upstream.transports import (
    NetworkClients,
    chosen_transport,
    make_client,
    route_of,
    transport_class,
)
from tests.conditions import eventually

PLAIN = NetworkConfig()
PLAIN_HTTPX = NetworkConfig(transport="httpx")


@pytest.mark.parametrize(
    ("network", "environ", "expected"),
    [
        (PLAIN, {}, "http1"),
        (dataclasses.replace(PLAIN, ca_file=None, max_response_bytes=10), {}, "http1"),
        (dataclasses.replace(PLAIN, http2=True), {}, "httpx"),
        (dataclasses.replace(PLAIN, proxy="http://p:3128"), {}, "http1"),
        (dataclasses.replace(PLAIN, proxy="HTTP://u:p@p:3128"), {}, "http1"),
        (dataclasses.replace(PLAIN, proxy="https://p:3128"), {}, "httpx"),
        (dataclasses.replace(PLAIN, proxy="http://p", http2=True), {}, "httpx"),
        # The setting wins over the environment (both clients use it whatever NO_PROXY says).
        (dataclasses.replace(PLAIN, proxy="http://p:3128"), {"HTTPS_PROXY": "http://q"}, "http1"),
        (PLAIN, {"HTTPS_PROXY": "http://p:3128"}, "http1"),
        (PLAIN, {"http_proxy": "p:3128"}, "http1"),  # no scheme: an http:// proxy
        (PLAIN, {"ALL_PROXY": "http://p:3128", "NO_PROXY": "internal"}, "http1"),
        (PLAIN, {"HTTPS_PROXY": "https://p:3128"}, "httpx"),
        (PLAIN, {"HTTP_PROXY": "http://p", "ALL_PROXY": "socks5://p:1080"}, "httpx"),
        (PLAIN, {"https_proxy": "http://p", "HTTPS_PROXY": "https://p"}, "http1"),  # lowercase
        (PLAIN, {"NO_PROXY": "*"}, "http1"),
        (dataclasses.replace(PLAIN, trust_env=False), {"HTTPS_PROXY": "https://p"}, "http1"),
        (dataclasses.replace(PLAIN, transport="httpx"), {}, "httpx"),
        (dataclasses.replace(PLAIN, transport="http1"), {"HTTPS_PROXY": "http://p"}, "http1"),
    ],
)
def test_auto_picks_http1_only_for_what_it_fully_supports(
    network: NetworkConfig, environ: dict[str, str], expected: str
) -> None:
    assert chosen_transport(network, environ) == expected


async def test_the_registry_imports_each_transport_by_name() -> None:
    client = make_client(dataclasses.replace(PLAIN, transport="httpx"))
    assert isinstance(client, HttpxUpstream)
    assert transport_class("http1").__name__ == "Http1Upstream"
    await client.aclose()


async def test_providers_with_equal_network_configs_share_one_client() -> None:
    made: list[NetworkConfig] = []

    def make(network: NetworkConfig) -> UpstreamClient:
        made.append(network)
        return FakeUpstream(lambda request: FakeReply())

    clients = NetworkClients(make)
    a = ProviderConfig(name="a", type="openai", base_url="http://a")
    b = ProviderConfig(name="b", type="openai", base_url="http://b")
    h2 = NetworkConfig(http2=True)
    c = ProviderConfig(name="c", type="openai", base_url="http://c", network=h2)
    assert clients.client(a) is clients.client(b) is clients.client(a)
    assert clients.client(c) is not clients.client(a)
    # A reloaded provider with another network config gets another client.
    reloaded = dataclasses.replace(a, network=h2)
    assert clients.client(reloaded) is clients.client(c)
    assert made == [PLAIN, h2]
    await clients.aclose()


@pytest.mark.parametrize(
    ("network", "environ", "route"),
    [
        (PLAIN, {}, "directly"),
        (
            dataclasses.replace(PLAIN, proxy="http://u:secret@p:3128"),
            {},
            "via the proxy http://p:3128",
        ),
        (PLAIN, {"HTTPS_PROXY": "http://u:secret@corp:8080"}, "via the proxy http://corp:8080"),
        (PLAIN, {"HTTPS_PROXY": "corp:8080", "NO_PROXY": "api.example"}, "directly"),
        (PLAIN, {"HTTPS_PROXY": "corp:8080"}, "via the proxy http://corp:8080"),
        (dataclasses.replace(PLAIN, trust_env=False), {"HTTPS_PROXY": "http://corp"}, "directly"),
    ],
)
def test_the_start_log_names_the_route_without_credentials(
    network: NetworkConfig, environ: dict[str, str], route: str
) -> None:
    provider = ProviderConfig(
        name="p", type="openai", base_url="https://api.example/v1", network=network
    )
    assert route_of(provider, environ) == route


class ClosingUpstream(FakeUpstream):
    """A fake client that says whether it was closed."""

    closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_a_reload_retires_the_clients_no_provider_uses_after_a_grace() -> None:
    """A reload that changed a provider's network settings left the old pool open for good;
    now it is closed once the old config's requests are over (a request in flight keeps its
    client meanwhile), and a client still in use is never closed."""
    made: list[ClosingUpstream] = []

    def make(network: NetworkConfig) -> UpstreamClient:
        made.append(ClosingUpstream(lambda request: FakeReply()))
        return made[-1]

    clients = NetworkClients(make)
    a = ProviderConfig(name="a", type="openai", base_url="http://a")
    b = ProviderConfig(name="b", type="openai", base_url="http://b")
    old_pool = clients.client(a)
    moved = dataclasses.replace(a, network=NetworkConfig(http2=True))
    assert clients.retire_unused([moved, b], grace_s=0.05) == 0  # b still uses that pool
    assert clients.retire_unused([moved], grace_s=0.05) == 1
    assert not made[0].closed  # requests that started before the reload still use it
    new_pool = clients.client(moved)
    assert new_pool is not old_pool
    await eventually(lambda: _closed(made[0]), 5, message="the retired pool is closed")
    assert not made[1].closed
    await clients.aclose()
    assert made[1].closed


async def test_shutdown_closes_retired_clients_without_waiting_for_their_grace() -> None:
    made: list[ClosingUpstream] = []

    def make(network: NetworkConfig) -> UpstreamClient:
        made.append(ClosingUpstream(lambda request: FakeReply()))
        return made[-1]

    clients = NetworkClients(make)
    clients.client(ProviderConfig(name="a", type="openai", base_url="http://a"))
    assert clients.retire_unused([], grace_s=3600) == 1
    await asyncio.wait_for(clients.aclose(), 5)
    assert made[0].closed


def closing_pools(
    environ: Mapping[str, str] = MappingProxyType({}),
) -> tuple[NetworkClients, list[ClosingUpstream]]:
    made: list[ClosingUpstream] = []

    def make(network: NetworkConfig) -> UpstreamClient:
        made.append(ClosingUpstream(lambda request: FakeReply()))
        return made[-1]

    return NetworkClients(make, environ), made


async def test_an_old_configs_retry_after_a_reload_reuses_the_retired_pool() -> None:
    """A request under way when a reload retired its provider's pool looks the client up again
    for a retry or a fallback: it got a new pool for its old settings, one nothing retired (it
    stayed open until the next reload or shutdown). It now gets the retired pool, still open."""
    clients, made = closing_pools()
    a = ProviderConfig(name="a", type="openai", base_url="http://a")
    old_pool = clients.client(a)
    moved = dataclasses.replace(a, network=NetworkConfig(http2=True))
    assert clients.retire_unused([moved], grace_s=3600) == 1
    assert clients.client(a) is old_pool  # the old config's retry
    assert clients.client(moved) is made[1]  # the new config's request
    assert clients.client(a) is old_pool and len(made) == 2
    await clients.aclose()
    assert all(pool.closed for pool in made)


async def test_a_pool_made_for_settings_no_config_names_is_closed_without_another_reload() -> None:
    """Past its grace the retired pool is closed; should a request of the old config still ask
    for it, the pool made for it is retired at once: closed after the grace, not left open."""
    clients, made = closing_pools()
    a = ProviderConfig(name="a", type="openai", base_url="http://a")
    clients.client(a)
    clients.retire_unused([dataclasses.replace(a, base_url="http://b", network=PLAIN_HTTPX)], 0.05)
    await eventually(lambda: _closed(made[0]), 5, message="the retired pool is closed")
    late = clients.client(a)
    assert late is made[1] and not late.closed  # it serves the request that asked for it
    await eventually(lambda: _closed(made[1]), 5, message="the late pool is closed")
    await clients.aclose()


async def test_a_reload_back_to_retired_settings_keeps_their_pool_open() -> None:
    clients, made = closing_pools()
    a = ProviderConfig(name="a", type="openai", base_url="http://a")
    moved = dataclasses.replace(a, network=PLAIN_HTTPX)
    clients.client(a)
    assert clients.retire_unused([moved], grace_s=0.05) == 1
    clients.client(moved)
    assert clients.retire_unused([a], grace_s=0.05) == 1  # back: the moved pool retires
    assert clients.client(a) is made[0]
    # Retired first, the first pool would have closed first: it is open, in use again.
    await eventually(lambda: _closed(made[1]), 5, message="the moved pool is closed")
    assert not made[0].closed
    await clients.aclose()
    assert made[0].closed


async def test_a_retry_after_an_entra_change_keeps_the_old_token_source() -> None:
    clients, _ = closing_pools({"S": "secret", "T": "other"})
    entra = EntraConfig(tenant_id="t", client_id="c", client_secret_env="S")
    a = ProviderConfig(
        name="a", type="azure", base_url="http://a", auth="entra_client_secret", entra=entra
    )
    signing = clients.client(a)
    changed = dataclasses.replace(a, entra=dataclasses.replace(entra, client_secret_env="T"))
    assert clients.retire_unused([changed], grace_s=3600) == 1
    assert clients.client(a) is signing
    assert clients.client(changed) is not signing
    await clients.aclose()


async def test_a_rotated_client_secret_gets_a_new_token_source_at_the_next_reload() -> None:
    """The secret read from a file (`S_FILE`) changes under the same config: the reload's
    `retire_unused` keys the signed client by the secret's digest, so the next request signs
    with a token of the new secret; the old source serves the old config's requests until then."""
    environ = {"S": "first"}
    clients, _ = closing_pools(environ)
    entra = EntraConfig(tenant_id="t", client_id="c", client_secret_env="S")
    a = ProviderConfig(
        name="a", type="azure", base_url="http://a", auth="entra_client_secret", entra=entra
    )
    signing = clients.client(a)
    assert clients.retire_unused([a], grace_s=3600) == 0  # the same secret: kept
    assert clients.client(a) is signing
    environ["S"] = "rotated"
    assert clients.retire_unused([a], grace_s=3600) == 1
    assert clients.client(a) is not signing
    await clients.aclose()


async def test_a_rotated_proxy_password_gets_a_new_pool_at_the_next_reload() -> None:
    """`proxy_password_env` read when the client is made: the pool's proxy URL carries it, the
    same password keeps the pool, a rotated one (its file changed) gets a new pool."""
    environ = {"PROXY_PW": "first pw"}
    seen: list[str | None] = []

    def make(network: NetworkConfig) -> UpstreamClient:
        seen.append(network.proxy)
        return ClosingUpstream(lambda request: FakeReply())

    clients = NetworkClients(make, environ)
    network = NetworkConfig(proxy="http://gw@proxy:3128", proxy_password_env="PROXY_PW")
    a = ProviderConfig(name="a", type="openai", base_url="http://a", network=network)
    pool = clients.client(a)
    assert seen == ["http://gw:first%20pw@proxy:3128"]
    assert clients.retire_unused([a], grace_s=3600) == 0
    assert clients.client(a) is pool
    environ["PROXY_PW"] = "rotated"
    assert clients.retire_unused([a], grace_s=3600) == 1
    assert clients.client(a) is not pool
    assert seen == ["http://gw:first%20pw@proxy:3128", "http://gw:rotated@proxy:3128"]
    await clients.aclose()


async def _closed(client: ClosingUpstream) -> bool:
    return client.closed
