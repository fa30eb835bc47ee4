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
import hashlib
import importlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Literal, cast
from urllib.parse import urlsplit

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config.entra_types import EntraConfig, ProviderAuth
from gateway.config.provider_types import NetworkConfig, ProviderConfig
from gateway.config.secret_env import ENVIRONMENT
from gateway.upstream.base import UpstreamClient
from gateway.upstream.bearer import BearerTokenUpstream, TokenCache
from gateway.upstream.entra import token_source
from gateway.upstream.network_secrets import with_proxy_password
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


# What a provider's Entra ID tokens depend on (its client secret's digest last): equal ones
# share their tokens, across reloads.
_TokenKey = tuple[ProviderAuth, EntraConfig, NetworkConfig, bytes]
# A client's key: its `NetworkConfig` (a pool), or a `_TokenKey` (that pool, signed).
_ClientKey = NetworkConfig | _TokenKey


class NetworkClients:
    """The network client of each provider: one per distinct `NetworkConfig` (providers that
    reach the network alike share its pool). A provider's answer is remembered by name and
    checked by identity, so the lookup per request is one dict get; a reloaded config's new
    provider objects look theirs up once. A provider with an `entra_*` auth gets that client
    wrapped to sign each request with its cached token (`bearer.py`).

    After a reload, a client the new config does not name is retired: it stays open, and
    found by its settings, for the requests of the configs it replaced (a retry or fallback
    looks its client up again), then is closed once they are over (`retire_unused`)."""

    def __init__(
        self,
        make: ClientFactory = make_client,
        environ: Mapping[str, str] = ENVIRONMENT,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._make = make
        self._environ = environ
        self._clock = clock
        self._clients: dict[_ClientKey, UpstreamClient] = {}  # every open one, retired or not
        self._by_provider: dict[str, tuple[ProviderConfig, UpstreamClient]] = {}
        self._named: set[_ClientKey] | None = None  # the serving config's; None: all (no reload)
        self._grace_s = 0.0  # the last reload's: the replaced config's longest request + 1 s
        self._retired: dict[_ClientKey, asyncio.TimerHandle] = {}  # each closes as it fires
        self._closing: set[asyncio.Task[None]] = set()

    def client(self, provider: ProviderConfig) -> UpstreamClient:
        known = self._by_provider.get(provider.name)
        if known is not None and known[0] is provider:
            return known[1]
        network = self._network(provider)
        client = self._client(network, lambda: self._make(network))
        if provider.auth != "api_key":
            client = self._signed(provider, client)
        if self._names(provider):  # not a replaced config's provider, asking again
            log.info(
                "provider '%s' reaches its upstream through %s, %s",
                provider.name,
                type(client).__name__,
                route_of(provider, os.environ),
            )
            self._by_provider[provider.name] = (provider, client)
        return client

    def _network(self, provider: ProviderConfig) -> NetworkConfig:
        """The provider's network settings with the proxy's password read now: a rotated one is
        another client (a pool with the new `Proxy-Authorization`)."""
        return with_proxy_password(provider.network, self._environ)

    def _signed(self, provider: ProviderConfig, client: UpstreamClient) -> UpstreamClient:
        def make() -> UpstreamClient:
            source = token_source(provider, self._environ, self._clock, make_client)
            tokens = TokenCache(source.fetch, self._clock, f"provider '{provider.name}'")
            return BearerTokenUpstream(client, tokens, source.aclose)

        return self._client(self._signed_key(provider), make)

    def _signed_key(self, provider: ProviderConfig) -> _ClientKey:
        """A signed client's settings, with a digest of its client secret as read now: a secret
        rotated in its file (`<NAME>_FILE`) gets a new token source at the next reload."""
        name = provider.entra.client_secret_env
        secret = self._environ.get(name, "") if name else ""
        digest = hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()
        return (provider.auth, provider.entra, self._network(provider), digest)

    def _client(self, key: _ClientKey, make: Callable[[], UpstreamClient]) -> UpstreamClient:
        """The open client of `key`, else a new one: retired at once when no config names it
        (a replaced config's request asking after its client was closed)."""
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = make()
            if self._named is not None and key not in self._named:
                self._retire(key)
        return client

    def _names(self, provider: ProviderConfig) -> bool:
        named = self._named
        if named is None:
            return True
        if provider.auth == "api_key":
            return self._network(provider) in named
        return self._signed_key(provider) in named

    def retire_unused(self, providers: Iterable[ProviderConfig], grace_s: float) -> int:
        """After a reload: retire the clients no provider of the new config uses (a provider
        gone, or its network or Entra settings changed), each closed `grace_s` later, the old
        config's longest request (a request that started before the reload goes on with its
        client, retries and falls back with it, until it ends: closing it at once would cut its
        stream). A retired client the new config names again is kept open. Returns how many it
        retired. Until 2026-12-06 a replaced config's request that retried or fell back after
        this got a new pool for its old settings, one left open until the next reload."""
        kept = list(providers)
        named: set[_ClientKey] = {self._network(provider) for provider in kept}
        named.update(self._signed_key(p) for p in kept if p.auth != "api_key")
        self._named, self._grace_s = named, grace_s
        for key in [key for key in self._retired if key in named]:
            self._retired.pop(key).cancel()
        retired = [key for key in self._clients if key not in named and key not in self._retired]
        for key in retired:
            self._retire(key)
        self._by_provider.clear()  # each provider's next request looks its client up again
        return len(retired)

    def _retire(self, key: _ClientKey) -> None:
        loop = asyncio.get_running_loop()
        self._retired[key] = loop.call_later(self._grace_s, self._close_retired, key)

    def _close_retired(self, key: _ClientKey) -> None:
        del self._retired[key]
        task = asyncio.get_running_loop().create_task(_close_quietly(self._clients.pop(key)))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        for handle in self._retired.values():
            handle.cancel()
        self._retired.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        clients = list(self._clients.values())
        self._clients.clear()
        self._by_provider.clear()
        for client in clients:
            await client.aclose()


async def _close_quietly(client: UpstreamClient) -> None:
    try:
        await client.aclose()
    except Exception:  # a retired pool that fails to close: nothing left to do with it
        log.warning("a network client a reload retired failed to close", exc_info=True)
