"""`rediss://` with the URL's TLS options, against a real server: TLS with a private CA
(tests/tls_proxy.py, since the bundled redis-server has no TLS) in front of the ACL user's
server. A wrong CA is a state failure like any other (on_redis_error), never a crash."""

from __future__ import annotations

import pytest
import trustme

from gateway.state import LimitCheck, RedisOptions, Settlement, StateUnavailable
from gateway.state.redis.backend import RedisState
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
