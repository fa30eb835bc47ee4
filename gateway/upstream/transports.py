"""Which network client serves a provider, by name, imported only when used (uvicorn's
`http = auto | h11 | httptools` registry).

`http1` (gateway/upstream/http1.py) is the hand-written fast path: HTTP/1.1, plain or TLS
(system CAs + `ca_file`, mTLS), gzip/deflate/br/zstd, `http://` proxies (the `proxy` setting,
or HTTPS_PROXY / HTTP_PROXY / ALL_PROXY with NO_PROXY by httpx's rules: `proxy_rules.py`), no
HTTP/2. `httpx` (gateway/upstream/httpx_transport.py) is the reference that does everything a
provider may ask. `auto` picks `http1` only where it does all the provider needs: no `http2`,
and every proxy that may apply an `http://` one (the `proxy` setting, else, when `trust_env`,
each proxy variable set). Everything else (an `https://` or `socks5://` proxy) goes to `httpx`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Literal, cast
from urllib.parse import urlsplit

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config.entra_types import EntraConfig, ProviderAuth
from gateway.config.types import NetworkConfig, ProviderConfig
from gateway.upstream.base import UpstreamClient
from gateway.upstream.bearer import BearerTokenUpstream, TokenCache
from gateway.upstream.entra import token_source
from gateway.upstream.proxy_rules import ProxyRules, environment_proxies, proxy_urls

log = logging.getLogger("gateway.upstream")

ConcreteTransport = Literal["http1", "httpx"]
ClientFactory = Callable[[NetworkConfig], UpstreamClient]

TRANSPORTS: Mapping[ConcreteTransport, str] = {
    "http1": "gateway.upstream.http1:Http1Upstream",
    "httpx": "gateway.upstream.httpx_transport:HttpxUpstream",
}


def chosen_transport(
    network: NetworkConfig, environ: Mapping[str, str] = os.environ
) -> ConcreteTransport:
    """The transport `network.transport` names; for `auto`, http1 where it does all `network`
    asks (see the module's docstring), else httpx."""
    if network.transport != "auto":
        return network.transport
    if network.http2:
        return "httpx"
    if network.proxy is not None:  # the setting wins over the environment, in both clients
        return "http1" if http1_reaches(network.proxy) else "httpx"
    if network.trust_env:
        urls = proxy_urls(environment_proxies(environ))
        if not all(http1_reaches(url) for url in urls):
            return "httpx"
    return "http1"


def http1_reaches(proxy: str) -> bool:
    """Whether `http1` can go through this proxy: an `http://` one (not TLS to the proxy)."""
    return proxy[:7].lower() == "http://"


def route_of(provider: ProviderConfig, environ: Mapping[str, str]) -> str:
    """How `provider`'s requests leave: "directly" or "via the proxy HOST:PORT" (never the
    proxy's credentials), as both clients decide it (the setting, else the environment)."""
    network = provider.network
    proxy = network.proxy
    parts = urlsplit(provider.base_url)
    if proxy is None and network.trust_env and parts.hostname:
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        proxy = ProxyRules(environment_proxies(environ)).proxy_for(scheme, parts.hostname, port)
    if proxy is None:
        return "directly"
    where = urlsplit(proxy)  # with its scheme: the config requires it, the rules add it
    shown = f"{where.hostname}:{where.port}" if where.port else where.hostname
    return f"via the proxy {where.scheme}://{shown}"


def transport_class(name: ConcreteTransport) -> ClientFactory:
    """The client class registered as `name`, imported now."""
    module, _, attribute = TRANSPORTS[name].partition(":")
    return cast(ClientFactory, getattr(importlib.import_module(module), attribute))


def make_client(network: NetworkConfig) -> UpstreamClient:
    return transport_class(chosen_transport(network))(network)


# What a provider's Entra ID tokens depend on: equal ones share their tokens, across reloads.
_TokenKey = tuple[ProviderAuth, EntraConfig, NetworkConfig]


class NetworkClients:
    """The network client of each provider: one per distinct `NetworkConfig` (providers that
    reach the network alike share its pool). A provider's answer is remembered by name and
    checked by identity, so the lookup per request is one dict get; a reloaded config's new
    provider objects look theirs up once. A provider with an `entra_*` auth gets that client
    wrapped to sign each request with its cached token (`bearer.py`)."""

    def __init__(
        self,
        make: ClientFactory = make_client,
        environ: Mapping[str, str] = os.environ,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._make = make
        self._environ = environ
        self._clock = clock
        self._by_network: dict[NetworkConfig, UpstreamClient] = {}
        self._by_provider: dict[str, tuple[ProviderConfig, UpstreamClient]] = {}
        self._signing: dict[_TokenKey, UpstreamClient] = {}
        # Clients a reload left unused, each closed when its timer fires (or at shutdown).
        self._retired: dict[int, tuple[UpstreamClient, asyncio.TimerHandle]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def client(self, provider: ProviderConfig) -> UpstreamClient:
        known = self._by_provider.get(provider.name)
        if known is not None and known[0] is provider:
            return known[1]
        client = self._by_network.get(provider.network)
        if client is None:
            client = self._by_network[provider.network] = self._make(provider.network)
        if provider.auth != "api_key":
            client = self._signed(provider, client)
        log.info(
            "provider '%s' reaches its upstream through %s, %s",
            provider.name,
            type(client).__name__,
            route_of(provider, os.environ),
        )
        self._by_provider[provider.name] = (provider, client)
        return client

    def _signed(self, provider: ProviderConfig, client: UpstreamClient) -> UpstreamClient:
        key = (provider.auth, provider.entra, provider.network)
        signing = self._signing.get(key)
        if signing is None:
            source = token_source(provider, self._environ, self._clock)
            tokens = TokenCache(source.fetch, self._clock, f"provider '{provider.name}'")
            signing = self._signing[key] = BearerTokenUpstream(client, tokens, source.aclose)
        return signing

    def retire_unused(self, providers: Iterable[ProviderConfig], grace_s: float) -> int:
        """After a reload: forget the clients no provider of the new config uses (a provider
        gone, or its network or Entra settings changed), and close each `grace_s` later, the
        old config's longest request (a request that started before the reload goes on with
        its client until it ends: closing it at once would cut its stream). Returns how many.
        Until this, every such reload left a pool and its connections open for good."""
        kept = list(providers)
        networks = {provider.network for provider in kept}
        signing = {(p.auth, p.entra, p.network) for p in kept if p.auth != "api_key"}
        retired = [c for network, c in self._by_network.items() if network not in networks]
        retired += [c for key, c in self._signing.items() if key not in signing]
        if not retired:
            return 0
        self._by_network = {n: c for n, c in self._by_network.items() if n in networks}
        self._signing = {key: c for key, c in self._signing.items() if key in signing}
        self._by_provider.clear()  # each provider's next request looks its client up again
        loop = asyncio.get_running_loop()
        for client in retired:
            handle = loop.call_later(grace_s, self._close_retired, id(client))
            self._retired[id(client)] = (client, handle)
        return len(retired)

    def _close_retired(self, key: int) -> None:
        entry = self._retired.pop(key, None)
        if entry is not None:
            task = asyncio.get_running_loop().create_task(_close_quietly(entry[0]))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        clients = [*self._by_network.values(), *self._signing.values()]
        for client, handle in self._retired.values():
            handle.cancel()
            clients.append(client)
        self._retired.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        self._signing.clear()
        self._by_network.clear()
        self._by_provider.clear()
        for client in clients:
            await client.aclose()


async def _close_quietly(client: UpstreamClient) -> None:
    try:
        await client.aclose()
    except Exception:  # a retired pool that fails to close: nothing left to do with it
        log.warning("a network client a reload retired failed to close", exc_info=True)
