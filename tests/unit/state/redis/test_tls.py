"""`rediss://` with the URL's TLS options, against a real server: TLS with a private CA
(tests/tls_proxy.py, since the bundled redis-server has no TLS) in front of the ACL user's
server. A wrong CA is a state failure like any other (on_redis_error), never a crash."""

from __future__ import annotations

import ssl
import threading

import pytest
import trustme

from gateway.state import LimitCheck, RedisOptions, Settlement, StateUnavailable
from gateway.state.redis.backend import RedisState
from gateway.state.redis.resp import RespClient
from tests.redis_topologies import GATEWAY_PASSWORD, GATEWAY_USER, Topology
from tests.tls_proxy import TlsProxy

T0 = 1_768_435_200.0
CHECKS = [LimitCheck("key", "demo", "rpm", 3, 1), LimitCheck("key", "demo", "concurrent", 5, 1)]


def _url(proxy: TlsProxy, ca_file: str) -> str:
    return (
        f"rediss://{GATEWAY_USER}:{GATEWAY_PASSWORD}@127.0.0.1:{proxy.port}/0"
        f"?ssl_ca_certs={ca_file}&ssl_cert_reqs=required"
    )


async def test_limits_cache_and_breakers_over_tls_with_an_acl_user(
    tls_proxy: TlsProxy, acl_topology: Topology
) -> None:
    acl_topology.flush()
    state = RedisState(RedisOptions(url=_url(tls_proxy, str(tls_proxy.ca_file)), timeout_s=5.0))
    try:
        assert state.client_name == "redis-py"  # auto: rediss:// goes to redis-py
        results = [await state.acquire(CHECKS, T0, ["dep"]) for _ in range(4)]
        assert [result.allowed for result in results] == [True, True, True, False]
        held = results[0].reservation
        assert held is not None
        await state.settle([Settlement(held, 10, 0.5, (("team", "qa"),))], T0)
        assert (await state.usage("key", "demo", T0))["concurrent"] == 2
        assert (await state.spend("team", "qa", T0))["total"] == pytest.approx(0.5)
        await state.set("k", b"cached", 30, T0)
        assert await state.get("k", T0) == b"cached"
        assert (await state.breaker_record("dep", False, T0, 3, 10, 30)).failures == 1
    finally:
        await state.aclose()


async def test_a_certificate_from_another_ca_is_unavailable(
    tls_proxy: TlsProxy, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    state = RedisState(RedisOptions(url=_url(tls_proxy, str(other)), timeout_s=5.0))
    try:
        with pytest.raises(StateUnavailable) as info:
            await state.acquire(CHECKS, T0)
        assert info.value.kind == "connection" and "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    finally:
        await state.aclose()


class Builds:
    """`ssl.create_default_context` as the RESP client calls it, counted with the thread of
    each build, trusting the proxy's private CA (the client itself trusts the system's store)."""

    def __init__(self, ca_file: str) -> None:
        self.ca_file = ca_file
        self.threads: list[int] = []

    def __call__(self) -> ssl.SSLContext:
        self.threads.append(threading.get_ident())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=self.ca_file)
        return context


async def test_the_resp_client_builds_its_tls_context_once_off_the_event_loop(
    tls_proxy: TlsProxy, acl_topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced onto `rediss://` (`client = "resp"`), the hand-written client made a context on
    the event loop at every connect: 10-30 ms of every request's time after each reconnect."""
    builds = Builds(str(tls_proxy.ca_file))
    monkeypatch.setattr(ssl, "create_default_context", builds)
    url = f"rediss://{GATEWAY_USER}:{GATEWAY_PASSWORD}@127.0.0.1:{tls_proxy.port}/0"
    client = RespClient(url, socket_timeout_s=5.0)
    try:
        assert await client.execute("PING") == b"PONG"
        connection = client._conn
        assert connection is not None
        connection.close(StateUnavailable("test: the server went away"))
        assert await client.execute("PING") == b"PONG"  # connected again
        assert client._conn is not connection
    finally:
        await client.aclose()
    assert len(builds.threads) == 1
    assert builds.threads[0] != threading.get_ident()  # not the event loop's thread
