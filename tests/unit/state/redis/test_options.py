"""Which client `[state] client` picks (options.py), what the config check refuses, and that
every URL option reaches redis-py (TLS is tested by redis-py itself: the bundled redis-server
has no TLS)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.config import ConfigError, load_config
from gateway.config.state_options import redis_options
from gateway.state.redis.options import RedisOptions, choose_client, host_port
from gateway.state.redis.redispy import RedisPyClient


@pytest.mark.parametrize(
    ("options", "picked"),
    [
        (RedisOptions(url="redis://127.0.0.1:6379/0"), "resp"),
        (RedisOptions(url="redis://user:pw@10.0.0.5:6379/2"), "resp"),
        (RedisOptions(url="unix://:pw@/run/redis.sock?db=3"), "resp"),
        (RedisOptions(url="rediss://h:6380/0"), "redis-py"),
        (RedisOptions(url="redis://h/0?ssl_cert_reqs=none&client_name=gw"), "redis-py"),
        (RedisOptions(url="redis://h/0?health_check_interval=5"), "redis-py"),
        (RedisOptions(url="redis://h:7000", cluster=True), "redis-py"),
        (RedisOptions(url="redis://", sentinels=(("s", 26379),)), "redis-py"),
        (RedisOptions(url="redis://h/0", client="redis-py"), "redis-py"),
        (RedisOptions(url="rediss://h/0", client="resp"), "resp"),  # TLS, the system's CAs
    ],
)
def test_auto_picks_the_resp_client_only_for_what_it_fully_supports(
    options: RedisOptions, picked: str
) -> None:
    assert choose_client(options) == picked


@pytest.mark.parametrize(
    "options",
    [
        RedisOptions(url="redis://h:7000", cluster=True, client="resp"),
        RedisOptions(sentinels=(("s", 26379),), client="resp"),
        RedisOptions(url="rediss://h/0?ssl_ca_certs=/ca.pem", client="resp"),
    ],
)
def test_resp_asked_for_what_it_cannot_do_is_refused(options: RedisOptions) -> None:
    with pytest.raises(ValueError, match="redis-py"):
        choose_client(options)


def test_host_port() -> None:
    assert host_port("10.0.0.1:26379") == ("10.0.0.1", 26379)
    assert host_port("[::1]:26379") == ("::1", 26379)
    for bad in ("nohost", ":1", "h:port"):
        with pytest.raises(ValueError):
            host_port(bad)


async def test_tls_options_of_the_url_reach_redis_py(tmp_path: Path) -> None:
    url = (
        "rediss://gw:pw@redis.example.net:6380/3?ssl_ca_certs=/etc/ca.pem"
        "&ssl_cert_reqs=required&ssl_certfile=/c.pem&ssl_keyfile=/k.pem"
    )
    client = RedisPyClient(RedisOptions(url=url, timeout_s=0.3, connect_timeout_s=0.7))
    try:
        redis_client = client._redis
        assert isinstance(redis_client, aioredis.Redis)  # not a cluster
        pool = redis_client.connection_pool
        kwargs = pool.connection_kwargs
        assert pool.connection_class.__name__ == "SSLConnection"
        assert kwargs["ssl_ca_certs"] == "/etc/ca.pem" and kwargs["ssl_cert_reqs"] == "required"
        assert kwargs["ssl_certfile"] == "/c.pem" and kwargs["ssl_keyfile"] == "/k.pem"
        assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("gw", "pw", 3)
        assert kwargs["socket_timeout"] == 0.3 and kwargs["socket_connect_timeout"] == 0.7
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ('redis_url = "redis://h/0?sslcacerts=/x"', "unknown options sslcacerts"),
        ('redis_url = "redis://h/0"\ncluster = true\nclient = "resp"', "Redis Cluster"),
        ('sentinels = ["nohost"]', "expected host:port"),
        ('sentinels = ["s:1"]\ncluster = true', "exclude each other"),
        ('redis_url = "redis://h:7000/2"\ncluster = true', "database 0 only"),
        ('redis_url = "redis://h:7000?db=1"\ncluster = true', "database 0 only"),
        ('sentinels = ["s:1"]\nsentinel_password_env = "NOPE"', "NOPE is not set"),
    ],
)
def test_the_config_check_refuses_redis_settings_that_cannot_work(
    tmp_path: Path, state: str, message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nbackend = "redis"\n{state}\n')
    with pytest.raises(ConfigError, match=message):
        load_config(config, env={})


@pytest.mark.parametrize("sentinel", ["redis://:S3ntinelPw@s:26379", "user:S3ntinelPw@s:26379"])
def test_a_sentinel_with_credentials_is_refused_without_showing_them(
    tmp_path: Path, sentinel: str
) -> None:
    """Before, it loaded (all of it the host) and `GET /admin/config` showed the password."""
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nbackend = "redis"\nsentinels = ["{sentinel}"]\n')
    with pytest.raises(ConfigError, match="not a URL or credentials") as refused:
        load_config(config, env={})
    assert "S3ntinelPw" not in str(refused.value)


def test_sentinels_need_no_redis_url(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[state]\nbackend = "redis"\nsentinels = ["10.0.0.1:26379"]\n')
    assert load_config(config, env={}).state.sentinels == ("10.0.0.1:26379",)


def test_the_key_prefix_reaches_the_backend_and_the_cluster_probe(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[state]\nbackend = "redis"\nredis_url = "redis://h:7000"\ncluster = true\n'
        'key_prefix = "staging"\n'
    )
    options = redis_options(load_config(config, env={}).state, {})
    assert options.key_prefix == "staging"
    assert RedisOptions().key_prefix == "llmgw"
    # The gate's probe on a Cluster reads a key an ACL user limited to `~staging:*` may read.
    assert RedisPyClient(options)._probe_key == "staging:{limits}:probe"
