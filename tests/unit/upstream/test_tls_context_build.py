"""Both network clients build their TLS context once, in a worker thread, never on the event loop
(loading the CA store takes 10-30 ms, which stalled every request of the process), shared by the
requests that wait for it, and built again after a failure."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import ssl
import threading
from pathlib import Path

import pytest

from gateway.config.provider_types import NetworkConfig
from gateway.upstream import http1, httpx_transport
from gateway.upstream.base import UpstreamTLSError
from gateway.upstream.tls import ssl_context
from gateway.upstream.transports import ConcreteTransport
from tests.unit.upstream.network_clients import DIRECT, Client, send
from tests.unit.upstream.network_servers import PrivateCA, always, response, scripted_server


class Builds:
    """`ssl_context` as a client calls it, counted, with the thread each build ran on."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def __call__(self, network: NetworkConfig) -> ssl.SSLContext:
        self.threads.append(threading.get_ident())
        return ssl_context(network)


@pytest.mark.parametrize("transport", ["http1", "httpx"])
async def test_first_requests_share_one_build_off_the_event_loop(
    transport: ConcreteTransport, ca: PrivateCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = Builds()
    for client_module in (http1, httpx_transport):  # each names it where it makes its pool
        monkeypatch.setattr(client_module, "ssl_context", builds)
    network = dataclasses.replace(DIRECT, ca_file=ca.ca_file)
    async with scripted_server(always(response(200, b"secure")), ca.server) as (url, _):
        async with Client(transport, network) as client:
            answers = await asyncio.gather(*(send(client, url) for _ in range(5)))
            assert answers == [b"secure"] * 5
            assert await send(client, url) == b"secure"  # later connections: the same context
    assert len(builds.threads) == 1
    assert builds.threads[0] != threading.get_ident()  # not the event loop's thread


@pytest.mark.parametrize("transport", ["http1", "httpx"])
async def test_a_failed_build_is_tried_again_by_the_next_request(
    transport: ConcreteTransport, ca: PrivateCA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"  # missing at first: a TLS file gone bad since the load
    network = dataclasses.replace(DIRECT, ca_file=ca_file)
    async with scripted_server(always(response(200, b"secure")), ca.server) as (url, _):
        async with Client(transport, network) as client:
            with pytest.raises(UpstreamTLSError):
                await send(client, url)
            shutil.copy(ca.ca_file, ca_file)  # put right
            assert await send(client, url) == b"secure"
