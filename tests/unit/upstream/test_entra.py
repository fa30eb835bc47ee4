"""Entra ID token requests against a real token endpoint on loopback (`tests/token_server.py`):
what each credential kind sends, and how answers and failures read."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.clock import FakeClock
from gateway.config.entra_types import EntraConfig
from gateway.config.provider_types import NetworkConfig, ProviderConfig
from gateway.upstream.entra import (
    EntraTokenSource,
    TokenError,
    managed_identity_request,
    token_answer,
    token_network,
    token_source,
)
from gateway.upstream.httpx_transport import HttpxUpstream
from gateway.upstream.transports import make_client
from tests.token_server import AADSTS_401, TokenServer, running_token_server, token

SECRET = "Q~entra.secret_0123456789"


@pytest.fixture
def server() -> Iterator[TokenServer]:
    with running_token_server() as running:
        yield running


def _provider(server: TokenServer, auth: str, **entra: object) -> ProviderConfig:
    return ProviderConfig(
        name="az",
        type="azure",
        base_url="https://r.openai.azure.com",
        api_version="2024-10-21",
        auth=auth,  # type: ignore[arg-type]
        entra=EntraConfig(authority=server.url, **entra),  # type: ignore[arg-type]
        network=NetworkConfig(trust_env=False),
    )


async def test_client_credentials_post_the_secret_to_the_tenants_token_endpoint(
    server: TokenServer,
) -> None:
    provider = _provider(
        server,
        "entra_client_secret",
        tenant_id="contoso",
        client_id="app-1",
        client_secret_env="AZ_SECRET",
    )
    source = token_source(provider, {"AZ_SECRET": SECRET}, FakeClock(), make_client)
    got = await source.fetch()
    await source.aclose()
    assert (got.value, got.lifetime_s) == (token(1), 3600.0)
    (sent,) = server.received
    assert (sent.method, sent.path) == ("POST", "/contoso/oauth2/v2.0/token")
    assert sent.form == {
        "grant_type": "client_credentials",
        "client_id": "app-1",
        "client_secret": SECRET,
        "scope": "https://cognitiveservices.azure.com/.default",
    }


async def test_a_workload_identity_sends_the_federated_token_read_again_each_time(
    server: TokenServer, tmp_path: Path
) -> None:
    projected = tmp_path / "azure-identity-token"
    projected.write_text("eyJfederated.one\n")
    provider = _provider(
        server,
        "entra_workload_identity",
        tenant_id="t",
        client_id="wi",
        federated_token_file=projected,
    )
    source = token_source(provider, {}, FakeClock(), make_client)
    await source.fetch()
    projected.write_text("eyJfederated.two")  # the kubelet rotated it
    await source.fetch()
    await source.aclose()
    assertions = [sent.form["client_assertion"] for sent in server.received]
    assert assertions == ["eyJfederated.one", "eyJfederated.two"]
    assert server.received[0].form["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    assert "client_secret" not in server.received[0].form
    projected.unlink()
    with pytest.raises(TokenError, match="cannot read federated_token_file"):
        await token_source(provider, {}, FakeClock(), make_client).fetch()


async def test_a_managed_identity_asks_imds_with_the_metadata_header(server: TokenServer) -> None:
    entra = EntraConfig(client_id="user-assigned-1")
    build = managed_identity_request(
        entra, {}, imds_url=server.url + "/metadata/identity/oauth2/token"
    )
    source = EntraTokenSource(build, HttpxUpstream(NetworkConfig(trust_env=False)), FakeClock())
    got = await source.fetch()
    await source.aclose()
    assert got.lifetime_s == 3600.0  # IMDS writes its numbers as strings
    (sent,) = server.received
    assert (sent.method, sent.path, sent.headers["metadata"]) == (
        "GET",
        "/metadata/identity/oauth2/token",
        "true",
    )
    assert sent.query == {
        "api-version": "2018-02-01",
        "resource": "https://cognitiveservices.azure.com",
        "client_id": "user-assigned-1",
    }


async def test_app_services_identity_endpoint_wins_over_imds(server: TokenServer) -> None:
    provider = _provider(server, "entra_managed_identity")
    environ = {"IDENTITY_ENDPOINT": server.url + "/msi/token", "IDENTITY_HEADER": "hdr-123"}
    source = token_source(provider, environ, FakeClock(), make_client)
    await source.fetch()
    await source.aclose()
    (sent,) = server.received
    assert (sent.path, sent.headers["x-identity-header"]) == ("/msi/token", "hdr-123")
    assert sent.query["api-version"] == "2019-08-01"


async def test_a_refusal_names_the_oauth_error_but_never_the_secret(server: TokenServer) -> None:
    server.failures.append((401, AADSTS_401))
    provider = _provider(
        server, "entra_client_secret", tenant_id="t", client_id="c", client_secret_env="S"
    )
    source = token_source(provider, {"S": SECRET}, FakeClock(), make_client)
    with pytest.raises(TokenError) as caught:
        await source.fetch()
    await source.aclose()
    assert caught.value.kind == "token"
    assert str(caught.value) == (
        "could not get a Microsoft Entra ID token: the token endpoint answered 401 "
        "invalid_client (AADSTS7000215)"
    )


async def test_an_unreachable_token_endpoint_is_a_token_error() -> None:
    provider = ProviderConfig(
        name="az",
        type="azure",
        base_url="https://r",
        auth="entra_client_secret",
        entra=EntraConfig(
            authority="http://127.0.0.1:9", tenant_id="t", client_id="c", client_secret_env="S"
        ),
        network=NetworkConfig(trust_env=False),
    )
    source = token_source(provider, {"S": SECRET}, FakeClock(), make_client)
    with pytest.raises(TokenError, match=r"token endpoint 127.0.0.1:9 failed \(connect\)"):
        await source.fetch()
    await source.aclose()


@pytest.mark.parametrize(
    ("status", "body", "now", "lifetime"),
    [
        (200, b'{"access_token": "t", "expires_in": 3599}', 0.0, 3599.0),
        (200, b'{"access_token": "t", "expires_in": "86399"}', 0.0, 86399.0),
        (200, b'{"access_token": "t", "expires_on": "1700003600"}', 1_700_000_000.0, 3600.0),
    ],
)
def test_token_lifetimes_read_from_each_endpoints_answer(
    status: int, body: bytes, now: float, lifetime: float
) -> None:
    assert token_answer(status, body, now).lifetime_s == lifetime


@pytest.mark.parametrize("body", [b"<html>", b'{"access_token": "t"}', b'{"expires_in": 5}', b"[]"])
def test_a_malformed_token_answer_is_a_token_error(body: bytes) -> None:
    with pytest.raises(TokenError, match="no access_token"):
        token_answer(200, body, 0.0)


def test_the_token_endpoint_gets_the_proxy_and_cas_but_not_the_client_certificate() -> None:
    """The proxy with its password from `proxy_password_env`: the one the provider's requests
    go through."""
    network = NetworkConfig(
        transport="http1",
        proxy="http://gw@proxy:3128",
        proxy_password_env="PROXY_PW",
        ca_file=Path("/ca.pem"),
        client_cert=Path("/c.pem"),
        client_key=Path("/k.pem"),
    )
    provider = ProviderConfig(
        name="az",
        type="azure",
        base_url="https://r",
        auth="entra_client_secret",
        network=network,
    )
    reached = token_network(provider, {"PROXY_PW": "p@ss w"})
    assert (reached.proxy, reached.ca_file, reached.transport) == (
        "http://gw:p%40ss%20w@proxy:3128",
        Path("/ca.pem"),
        "httpx",
    )
    assert reached.client_cert is None and reached.client_key is None
    identity = token_network(dataclasses.replace(provider, auth="entra_managed_identity"), {})
    assert identity.proxy is None and identity.trust_env is False and identity.ca_file is None
