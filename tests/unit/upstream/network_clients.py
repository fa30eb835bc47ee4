"""What the network contract tests share: the two clients made from a network config, one
request sent and read whole, and whether `auto` would give `http1` a network it cannot serve."""

from __future__ import annotations

import dataclasses

from gateway.config.provider_types import NetworkConfig
from gateway.upstream import UpstreamClient, UpstreamRequest, UpstreamTimeouts
from gateway.upstream.transports import ConcreteTransport, chosen_transport, transport_class

TIMEOUTS = UpstreamTimeouts(connect_s=5, first_byte_s=5, idle_s=5)
DIRECT = NetworkConfig(trust_env=False)


def served_by(transport: ConcreteTransport, network: NetworkConfig) -> bool:
    """Whether `transport` is to serve `network`; for `http1` where it cannot, asserts that
    `auto` picks httpx instead."""
    if transport == "http1" and chosen_transport(network) != "http1":
        assert chosen_transport(dataclasses.replace(network, transport="auto")) == "httpx"
        return False
    return True


async def send(client: UpstreamClient, url: str, body: bytes = b"{}") -> bytes:
    request = UpstreamRequest("POST", url + "/v1/chat/completions", {"x-t": "1"}, body)
    answer = await client.send(request, TIMEOUTS)
    try:
        return await answer.read()
    finally:
        await answer.aclose()


class Client:
    def __init__(self, transport: ConcreteTransport, network: NetworkConfig = DIRECT) -> None:
        self.client: UpstreamClient = transport_class(transport)(network)

    async def __aenter__(self) -> UpstreamClient:
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
