"""A provider's network settings with the secrets they name read in: the proxy's password of
`proxy_password_env` put in the proxy's URL, which both clients read credentials from (as
`Proxy-Authorization: Basic`). Read when a client is made (at start and at each reload), so a
password rotated in its file (`<NAME>_FILE`) makes another client, never a request's work."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gateway.config.provider_types import NetworkConfig
from gateway.config.urls import url_with_password


def with_proxy_password(network: NetworkConfig, environ: Mapping[str, str]) -> NetworkConfig:
    """`network` as its client takes it: `proxy` with the password of `proxy_password_env`
    (the loader checked it is set and that the URL holds none)."""
    name = network.proxy_password_env
    if name is None or network.proxy is None:
        return network
    proxy = url_with_password(network.proxy, environ.get(name, ""))
    return dataclasses.replace(network, proxy=proxy)
