"""The network contract's fixtures: each test runs on both clients (`transport`), and a private
CA made once per module (`ca`)."""

from __future__ import annotations

import pytest

from gateway.upstream.transports import ConcreteTransport
from tests.unit.upstream.network_servers import PrivateCA, private_ca


@pytest.fixture(params=["http1", "httpx"])
def transport(request: pytest.FixtureRequest) -> ConcreteTransport:
    name: ConcreteTransport = request.param
    return name


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    return private_ca(tmp_path_factory.mktemp("ca"))
