"""Which client `[state] client` picks (options.py), what the config check refuses, and that
every URL option reaches redis-py (TLS is tested by redis-py itself: the bundled redis-server
has no TLS)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import parse_url

from gateway.config import ConfigError, load_config
from gateway.config.state_options import redis_options
from gateway.config.urls import url_with_password
from gateway.state.redis.options import (
    RedisOptions,
    choose_client,
    host_port,
)
from gateway.state.redis.redispy import RedisPyClient
from gateway.state.redis.resp import Address


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
    _refusal(tmp_path, state, {}, message)


def _refusal(tmp_path: Path, state: str, env: dict[str, str], message: str) -> str:
    """What loading a config of `[state]` lines refuses it with (it must match `message`)."""
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nbackend = "redis"\n{state}\n')
    with pytest.raises(ConfigError, match=message) as refused:
        load_config(config, env=env)
    return str(refused.value)


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


@pytest.mark.parametrize(
    ("url", "user", "rest"),
    [
        ("redis://10.0.0.5:6379/2", None, "redis://:{}@10.0.0.5:6379/2"),
        ("redis://gateway@10.0.0.5:6379/2", "gateway", "redis://gateway:{}@10.0.0.5:6379/2"),
        ("redis://gate%40way@[::1]:6379", "gate@way", "redis://gate%40way:{}@[::1]:6379"),
        ("redis://gateway:old@h/0", "gateway", "redis://gateway:{}@h/0"),
        ("rediss://gw@h:6380/0?ssl_cert_reqs=required", "gw", "rediss://gw:{}@h:6380/0?ssl_cert_reqs=required"),
        ("unix:///run/redis.sock?db=3", None, "unix://:{}@/run/redis.sock?db=3"),
        ("unix://gw@/run/redis.sock", "gw", "unix://gw:{}@/run/redis.sock"),
        ("redis://gateway@/0", "gateway", "redis://gateway:{}@/0"),  # Sentinel: no host
    ],
)  # fmt: skip
def test_the_password_from_the_environment_is_the_urls_for_both_clients(
    url: str, user: str | None, rest: str
) -> None:
    """Both clients read credentials from the URL: the password goes there percent-encoded, so
    any character a generated password holds arrives as it is, and the user stays."""
    password = "p@ss:w/rd?#%&= é"
    merged = url_with_password(url, password)
    assert merged == rest.format("p%40ss%3Aw%2Frd%3F%23%25%26%3D%20%C3%A9")
    kwargs = parse_url(merged)
    assert (kwargs.get("username"), kwargs["password"]) == (user, password)
    if not merged.startswith("rediss://"):
        address = Address.from_url(merged)
        assert (address.username, address.password) == (user, password)


def _state_config(tmp_path: Path, state: str, env: dict[str, str]) -> RedisOptions:
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nbackend = "redis"\n{state}\n')
    return redis_options(load_config(config, env=env).state, env)


def test_redis_password_env_reaches_the_url_of_every_shape(tmp_path: Path) -> None:
    env = {"REDIS_PW": "s3cret/+="}
    plain = _state_config(
        tmp_path,
        'redis_url = "redis://gateway@10.0.0.5:6379/2"\nredis_password_env = "REDIS_PW"',
        env,
    )
    assert plain.url == "redis://gateway:s3cret%2F%2B%3D@10.0.0.5:6379/2"
    assert choose_client(plain) == "resp"  # still a plain URL: the fast path serves it
    assert "s3cret" not in repr(plain)
    sentinel = _state_config(
        tmp_path, 'sentinels = ["10.0.0.1:26379"]\nredis_password_env = "REDIS_PW"', env
    )
    assert parse_url(sentinel.url)["password"] == "s3cret/+="
    cluster = _state_config(
        tmp_path,
        'redis_url = "redis://h:7000"\ncluster = true\nredis_password_env = "REDIS_PW"',
        env,
    )
    assert parse_url(cluster.url)["password"] == "s3cret/+="
    without = _state_config(tmp_path, 'redis_url = "redis://gateway:inline@h/0"', {})
    assert without.url == "redis://gateway:inline@h/0"


async def test_redis_password_env_reaches_the_sentinels_primary_and_the_clusters_nodes(
    tmp_path: Path,
) -> None:
    env = {"REDIS_PW": "s3cret"}
    sentinel = RedisPyClient(
        _state_config(
            tmp_path,
            'redis_url = "redis://gateway@/0"\nsentinels = ["10.0.0.1:26379"]\n'
            'redis_password_env = "REDIS_PW"',
            env,
        )
    )
    cluster = RedisPyClient(
        _state_config(
            tmp_path,
            'redis_url = "redis://gateway@h:7000"\ncluster = true\nredis_password_env = "REDIS_PW"',
            env,
        )
    )
    try:
        assert sentinel._sentinel is not None
        kwargs = sentinel._sentinel.connection_kwargs
        assert (kwargs["username"], kwargs["password"]) == ("gateway", "s3cret")
        assert isinstance(cluster._redis, RedisCluster)
        nodes = cluster._redis.nodes_manager
        assert (nodes.connection_kwargs["username"], nodes.connection_kwargs["password"]) == (
            "gateway",
            "s3cret",
        )
    finally:
        await sentinel.aclose()
        await cluster.aclose()


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ('redis_url = "redis://h/0"\nredis_password_env = "NOPE"', "NOPE is not set"),
        ('redis_url = "redis://h/0"\nredis_password_env = "EMPTY"', "EMPTY is empty"),
        (
            'redis_url = "redis://gw:Inl1nePw@h/0"\nredis_password_env = "SET"',
            "redis_url holds a password too",
        ),
        ('redis_url = "redis://h/0"\nredis_password_env = "Pasted-S3cret!"', "environment"),
    ],
)
def test_redis_password_env_is_refused_without_showing_a_secret(
    tmp_path: Path, state: str, message: str
) -> None:
    shown = _refusal(tmp_path, state, {"EMPTY": "", "SET": "from-env"}, message)
    assert "Inl1nePw" not in shown and "Pasted-S3cret" not in shown and "from-env" not in shown
    assert f"{tmp_path / 'config.toml'}:4: " in shown  # the line of redis_password_env
