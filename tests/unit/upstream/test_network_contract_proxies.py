"""The network transport contract through proxies: both clients (`http1`, `httpx`) tunnel to
https upstreams with CONNECT, forward to http ones in absolute form, send the proxy's
credentials, fail clearly when a proxy refuses or cannot be reached, and follow the proxy
variables with NO_PROXY. Where `http1` cannot serve a network, its run asserts that `auto` never
gives it one."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from gateway.config.provider_types import NetworkConfig
from gateway.upstream import UpstreamError, UpstreamRequest, UpstreamTimeouts
from gateway.upstream.network_secrets import with_proxy_password
from gateway.upstream.transports import ConcreteTransport
from tests.unit.upstream.loopback import loopback_server
from tests.unit.upstream.network_clients import DIRECT, TIMEOUTS, Client, send, served_by
from tests.unit.upstream.network_servers import (
    PrivateCA,
    always,
    connect_proxy,
    response,
    scripted_server,
)


async def test_https_through_a_connect_proxy(transport: ConcreteTransport, ca: PrivateCA) -> None:
    async with connect_proxy() as proxy:
        network = dataclasses.replace(DIRECT, proxy=proxy.url, ca_file=ca.ca_file)
        if not served_by(transport, network):
            return
        async with scripted_server(always(response(200, b"tunnelled")), ca.server) as (url, _):
            async with Client(transport, network) as client:
                assert await send(client, url) == b"tunnelled"
    assert proxy.targets == [url.removeprefix("https://")]


async def test_a_tunnel_carries_many_requests(transport: ConcreteTransport, ca: PrivateCA) -> None:
    async with connect_proxy() as proxy:
        network = dataclasses.replace(DIRECT, proxy=proxy.url, ca_file=ca.ca_file)
        async with scripted_server(always(response(200, b"again")), ca.server) as (url, seen):
            async with Client(transport, network) as client:
                assert [await send(client, url) for _ in range(3)] == [b"again"] * 3
    assert len(proxy.targets) == 1 and seen.connections == 1  # one tunnel, kept alive


async def test_http_through_a_proxy_in_absolute_form(transport: ConcreteTransport) -> None:
    async with connect_proxy() as proxy:
        network = dataclasses.replace(DIRECT, proxy=proxy.url)
        async with scripted_server(always(response(200, b"forwarded"))) as (url, seen):
            async with Client(transport, network) as client:
                assert await send(client, url) == b"forwarded"
    assert proxy.targets == [url + "/v1/chat/completions"]
    assert seen.requests[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")


# "user:p@ss w0rd" percent-encoded in the URL; sent as Basic base64("user:p@ss w0rd").
PROXY_USERINFO = "user:p%40ss%20w0rd"
PROXY_AUTHORIZATION = "Basic dXNlcjpwQHNzIHcwcmQ="


async def test_proxy_credentials_from_the_url(transport: ConcreteTransport, ca: PrivateCA) -> None:
    async with connect_proxy(PROXY_AUTHORIZATION) as proxy:
        tunnelled = dataclasses.replace(
            DIRECT, proxy=proxy.url_with(PROXY_USERINFO), ca_file=ca.ca_file
        )
        forwarded = dataclasses.replace(DIRECT, proxy=proxy.url_with(PROXY_USERINFO))
        async with scripted_server(always(response(200, b"in")), ca.server) as (url, _):
            async with Client(transport, tunnelled) as client:
                assert await send(client, url) == b"in"
        async with scripted_server(always(response(200, b"in"))) as (url, seen):
            async with Client(transport, forwarded) as client:
                assert await send(client, url) == b"in"
    assert proxy.authorizations == [PROXY_AUTHORIZATION] * 2
    assert b"proxy-authorization" not in seen.requests[0].lower()  # the proxy's, not sent on


async def test_proxy_password_from_the_environment(
    transport: ConcreteTransport, ca: PrivateCA
) -> None:
    """`proxy_password_env`: the URL names the user, the variable holds the password (any
    character), and the proxy gets the same credentials as from the URL."""
    async with connect_proxy(PROXY_AUTHORIZATION) as proxy:
        configured = dataclasses.replace(
            DIRECT, proxy=proxy.url_with("user"), proxy_password_env="PROXY_PW", ca_file=ca.ca_file
        )
        network = with_proxy_password(configured, {"PROXY_PW": "p@ss w0rd"})
        async with scripted_server(always(response(200, b"in")), ca.server) as (url, _):
            async with Client(transport, network) as client:
                assert await send(client, url) == b"in"
    assert proxy.authorizations == [PROXY_AUTHORIZATION]


async def test_a_proxy_that_refuses(transport: ConcreteTransport, ca: PrivateCA) -> None:
    """Without the credentials it wants: a tunnel is a connect error naming the proxy (and
    never the proxy URL, which may carry credentials); a forwarded request gets its answer."""
    async with connect_proxy(PROXY_AUTHORIZATION) as proxy:
        network = dataclasses.replace(DIRECT, proxy=proxy.url_with("user:wrong"))
        async with scripted_server(always(response(200, b"never")), ca.server) as (url, seen):
            tunnelled = dataclasses.replace(network, ca_file=ca.ca_file)
            async with Client(transport, tunnelled) as client:
                with pytest.raises(UpstreamError) as refused:
                    await send(client, url)
        async with scripted_server(always(response(200, b"never"))) as (plain_url, _):
            async with Client(transport, network) as client:
                request = UpstreamRequest("POST", plain_url + "/v1/x", {}, b"{}")
                answer = await client.send(request, TIMEOUTS)
                await answer.aclose()
    assert refused.value.kind == "connect"
    assert "proxy refused" in str(refused.value) and "wrong" not in str(refused.value)
    assert "407" in str(refused.value)
    assert answer.status == 407 and seen.connections == 0


async def test_a_proxy_that_cannot_be_reached(transport: ConcreteTransport) -> None:
    async with scripted_server(always(response(200, b"never"))) as (url, seen):
        closed = url.rsplit(":", 1)[0] + ":1"  # nothing listens on port 1
        async with Client(transport, dataclasses.replace(DIRECT, proxy=closed)) as client:
            with pytest.raises(UpstreamError) as failed:
                await send(client, url)
    assert failed.value.kind == "connect" and seen.connections == 0


async def test_the_proxy_from_the_environment_and_no_proxy(
    transport: ConcreteTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = NetworkConfig()  # trust_env: the environment decides
    async with connect_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        if not served_by(transport, network):
            return
        async with scripted_server(always(response(200, b"ok"))) as (url, seen):
            async with Client(transport, network) as client:
                assert await send(client, url) == b"ok"
            assert proxy.targets == [url + "/v1/chat/completions"]
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            async with Client(transport, network) as client:
                assert await send(client, url) == b"ok"
    assert len(proxy.targets) == 1  # the second request went direct
    assert len(seen.requests) == 2


async def test_a_proxy_that_never_answers_is_a_timeout(
    transport: ConcreteTransport, ca: PrivateCA
) -> None:
    """`http1` bounds the whole tunnel set-up (CONNECT and TLS) by the connect timeout; httpx
    bounds the CONNECT's answer only by the first-byte deadline, so it fails later, as a
    first-token timeout (documented in docs/operations.md)."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # takes the CONNECT, answers nothing until the client leaves

    timeouts = UpstreamTimeouts(connect_s=0.2, first_byte_s=1, idle_s=1)
    async with loopback_server(silent) as proxy_url:
        network = dataclasses.replace(DIRECT, proxy=proxy_url, ca_file=ca.ca_file)
        async with Client(transport, network) as client:
            request = UpstreamRequest("POST", "https://upstream.test/v1/x", {}, b"{}")
            with pytest.raises(UpstreamError) as failed:
                await client.send(request, timeouts)
    expected = "connect" if transport == "http1" else "first_token_timeout"
    assert failed.value.kind == expected


async def test_a_bracketed_ipv6_no_proxy_entry_is_read(
    transport: ConcreteTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with connect_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost,[::1]")
        monkeypatch.delenv("no_proxy", raising=False)
        async with scripted_server(always(response(200, b"ok"))) as (url, _):
            async with Client(transport, NetworkConfig()) as client:
                assert await send(client, url) == b"ok"
    assert proxy.targets == [url + "/v1/chat/completions"]  # 127.0.0.1 is not ::1: proxied
