"""Managed Redis services (ElastiCache, MemoryDB, Azure Cache, Memorystore) restrict what a client
may do: `CONFIG`, `KEYS`, `DEBUG` renamed away, ACL users limited to the gateway's keys and a
few commands. Emulated here with a real redis-server given a redis.conf of `rename-command`s and
ACL users: the minimal user of docs/operations.md runs every feature through both clients, and a
user refused a command the gateway needs gets "unavailable" with `kind="noperm"` (the
`on_redis_error` path, counted in gateway_state_errors_total{kind}), never another error."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gateway.config import load_config
from gateway.config.state_options import redis_options
from gateway.config.state_types import RedisClientName
from gateway.state import LimitCheck, RedisOptions, Settlement, StateUnavailable
from gateway.state.redis.backend import RedisState
from tests.procs import free_port
from tests.redis_server import RedisServer, redis_server_binary
from tests.redis_topologies import Topology, start_sentinel
from tests.unit.state.conftest import TEST_TIMEOUT_S

CLIENTS: list[RedisClientName] = ["resp", "redis-py"]
NOW = 1_768_435_200.0
CHECKS = [
    LimitCheck("key", "k", "rpm", 100, 1),
    LimitCheck("key", "k", "tpm", 10_000, 100),
    LimitCheck("key", "k", "concurrent", 5, 1),
    LimitCheck("key", "k", "budget_day", 10.0, 0.5),
    LimitCheck("user", "k/u", "budget_month", 10.0, 0.5),
]
# What the managed services turn off (ElastiCache, Azure: CONFIG; some: KEYS, DEBUG too).
RENAMED = ("CONFIG", "KEYS", "DEBUG")
OPERATIONS = Path(__file__).parents[4] / "docs" / "operations.md"


def documented_acl(cluster: bool = False) -> list[str]:
    """The rules of the ready-to-paste `ACL SETUSER gateway ...` line of docs/operations.md,
    password included (`>s3cret`), with what it says a Cluster needs besides."""
    text = OPERATIONS.read_text()
    found = re.search(r"^ACL SETUSER gateway (.+)$", text, re.MULTILINE)
    assert found is not None, "docs/operations.md lost its ACL SETUSER line"
    more = re.search(r"on\s+a\s+Cluster\s+`([^`]+)`", text) if cluster else None
    assert more is not None or not cluster, "docs/operations.md lost the Cluster's rules"
    return found.group(1).split() + (more.group(1).split() if more else [])


@pytest.fixture
def managed(tmp_path: Path) -> Iterator[RedisServer]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server")
    conf = tmp_path / "redis.conf"
    conf.write_text("".join(f'rename-command {name} ""\n' for name in RENAMED))
    server = RedisServer(binary, free_port(), config_file=conf)
    server.start()
    yield server
    server.stop()


def _state(server: RedisServer, client: RedisClientName, user: str, password: str) -> RedisState:
    url = f"redis://{user}:{password}@127.0.0.1:{server.port}/0"
    return RedisState(RedisOptions(url=url, client=client, timeout_s=TEST_TIMEOUT_S))


def _add_user(server: RedisServer, name: str, *rules: str) -> None:
    with redis.Redis(port=server.port) as admin:
        admin.execute_command("ACL", "SETUSER", name, "reset", *rules)


async def _every_feature(state: RedisState) -> None:
    """Limits, budgets, settlements (receipts), breakers, cache, remembered responses and the
    semantic cache's shared vectors."""
    assert await state.ping()
    assert await state.warnings() == []  # INFO is granted: no maxmemory, nothing to say
    held = await state.acquire(CHECKS, NOW, ["d"])
    assert held.allowed and held.reservation is not None
    await state.settle([Settlement(held.reservation, 40, 0.25)], NOW + 1)
    again = await state.acquire(CHECKS, NOW + 2)
    assert again.reservation is not None
    settling = state.start_settle([Settlement(again.reservation, 10, 0.1)], NOW + 3)
    assert settling is not None
    await settling
    gone = await state.acquire(CHECKS, NOW + 4)
    assert gone.reservation is not None
    await state.abandon([gone.reservation], NOW + 5)
    assert (await state.spend("key", "k", NOW + 6))["day"] == pytest.approx(0.35)
    assert (await state.usage("key", "k", NOW + 6))["concurrent"] == 0
    assert (await state.breaker_record("d", False, NOW, 1, 60.0, 30.0)).state == "open"
    assert await state.breaker_try_probe("d", NOW + 31, 5.0)
    assert (await state.breaker_states(["d"], NOW + 31))["d"].failures == 1
    await state.set("entry", b"cached", 60, NOW)
    assert await state.get("entry", NOW) == b"cached"
    await state.delete("entry")
    await state.remember("response:resp_1", b"{}", 60, NOW)
    assert await state.recall("response:resp_1", NOW) == b"{}"
    await state.forget("response:resp_1")
    _, cursor = await state.read_shared_vectors(None)
    await state.share_vector(b"a vector", 60)
    assert (await state.read_shared_vectors(cursor))[0] == [b"a vector"]


@pytest.mark.parametrize("client", CLIENTS)
async def test_the_documented_minimal_acl_user_runs_every_feature(
    managed: RedisServer, client: RedisClientName
) -> None:
    _add_user(managed, "gateway", *documented_acl())
    with redis.Redis(port=managed.port) as admin:
        admin.script_flush()  # the first calls meet NOSCRIPT and load the scripts by EVAL
    state = _state(managed, client, "gateway", "s3cret")
    try:
        await _every_feature(state)
    finally:
        await state.aclose()
    with redis.Redis(port=managed.port) as admin:
        refused = {entry["object"] for entry in admin.acl_log()}
    # redis-py names its library (CLIENT SETINFO) on connect and ignores a refusal.
    assert refused <= {"client"}


@pytest.mark.parametrize("client", CLIENTS)
async def test_an_acl_user_limited_to_its_key_prefix_runs_every_feature(
    managed: RedisServer, client: RedisClientName
) -> None:
    """Two gateways on one Redis (docs/operations.md): the documented line with `~llmgw:*`
    turned into `~<key_prefix>:*` serves the gateway of that prefix, and only it."""
    rules = documented_acl()
    assert "~llmgw:*" in rules
    _add_user(managed, "staging", *(("~staging:*" if r == "~llmgw:*" else r) for r in rules))
    url = f"redis://staging:s3cret@127.0.0.1:{managed.port}/0"
    options = RedisOptions(url=url, client=client, timeout_s=TEST_TIMEOUT_S)
    state = RedisState(dataclasses.replace(options, key_prefix="staging"))
    other = RedisState(options)  # the default prefix: another gateway's keys
    try:
        await _every_feature(state)
        with pytest.raises(StateUnavailable) as refused:
            await other.acquire(CHECKS, NOW)
        assert refused.value.kind == "noperm", refused.value
    finally:
        await state.aclose()
        await other.aclose()


@pytest.mark.parametrize("client", CLIENTS)
async def test_the_users_password_from_redis_password_env_runs_every_feature(
    managed: RedisServer, client: RedisClientName, tmp_path: Path
) -> None:
    """The password kept out of the file (`[state] redis_password_env`), the user in the URL,
    read by `load_config` as `gateway serve` reads it; a wrong one is refused as inline."""
    _add_user(managed, "gateway", *documented_acl())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\nbackend = "redis"\nclient = "{client}"\n'
        f'redis_url = "redis://gateway@127.0.0.1:{managed.port}/0"\n'
        'redis_password_env = "GATEWAY_REDIS_PASSWORD"\n'
    )
    for password, works in (("s3cret", True), ("wrong", False)):
        env = {"GATEWAY_REDIS_PASSWORD": password}
        options = redis_options(load_config(config, env=env).state, env)
        state = RedisState(dataclasses.replace(options, timeout_s=TEST_TIMEOUT_S))
        try:
            if works:
                assert await state.warnings() == []
                await _every_feature(state)
            else:
                (warning,) = await state.warnings()
                assert warning.startswith("redis refuses the gateway") and "WRONGPASS" in warning
                with pytest.raises(StateUnavailable):
                    await state.acquire(CHECKS, NOW)
        finally:
            await state.aclose()


async def test_a_sentinel_managed_primary_with_its_password_from_redis_password_env(
    tmp_path: Path,
) -> None:
    """The usual managed shape with Sentinel: the primary and the replica protected by a
    password, which the gateway reads from the environment (`redis_password_env`) and the
    URL of `[state]` only names the db; redis-py asks the Sentinel for the primary and
    authenticates there."""
    if redis_server_binary() is None:
        pytest.skip("no redis-server")
    (tmp_path / "sentinel").mkdir()
    topology = start_sentinel(tmp_path / "sentinel", password="sentinel-managed-pw")
    try:
        (sentinel,) = topology.options.sentinels
        config = tmp_path / "config.toml"
        config.write_text(
            '[state]\nbackend = "redis"\nredis_url = "redis:///0"\n'
            f'sentinels = ["{sentinel[0]}:{sentinel[1]}"]\n'
            'redis_password_env = "GATEWAY_REDIS_PASSWORD"\n'
        )
        env = {"GATEWAY_REDIS_PASSWORD": "sentinel-managed-pw"}
        options = redis_options(load_config(config, env=env).state, env)
        state = RedisState(dataclasses.replace(options, timeout_s=TEST_TIMEOUT_S))
        try:
            await _every_feature(state)
        finally:
            await state.aclose()
        with redis.Redis.from_url(topology.admin_urls[0]) as primary:
            assert primary.exists("llmgw:{breakers}:d")  # written on the primary, with the password
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=topology.servers[0].port).ping()
    finally:
        topology.stop()


async def test_the_documented_acl_user_runs_every_feature_on_a_cluster(
    cluster_topology: Topology,
) -> None:
    """redis-py learns the slots (CLUSTER SLOTS) and the commands' keys (COMMAND) first:
    without those two the user is refused before any call."""
    cluster_topology.flush()
    ports = [server.port for server in cluster_topology.servers]
    for port in ports:
        with redis.Redis(port=port) as admin:
            admin.execute_command("ACL", "SETUSER", "gw-min", "reset", *documented_acl(True))
            admin.execute_command("ACL", "LOG", "RESET")
    url = f"redis://gw-min:s3cret@127.0.0.1:{ports[0]}/0"
    options = RedisOptions(url=url, cluster=True, client="redis-py", timeout_s=TEST_TIMEOUT_S)
    state = RedisState(options)
    try:
        await _every_feature(state)
    finally:
        await state.aclose()
    for port in ports:
        with redis.Redis(port=port) as admin:
            assert {entry["object"] for entry in admin.acl_log()} <= {"client"}


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("missing", ["evalsha", "exists", "eval"])
async def test_a_command_refused_by_the_acl_is_a_noperm_state_error(
    managed: RedisServer, client: RedisClientName, missing: str
) -> None:
    """`evalsha`: refused to the client; `exists`: refused inside the acquire script (Redis 6
    words that without a code: until 2026-12-06 it counted as kind="error_reply"); `eval` (and
    SCRIPT LOAD): a server that has not run the scripts yet cannot learn them."""
    dropped = {f"+{missing}", "+script|load"} if missing == "eval" else {f"+{missing}"}
    rules = [rule for rule in documented_acl() if rule not in dropped]
    _add_user(managed, "limited", *rules)
    with redis.Redis(port=managed.port) as admin:
        admin.script_flush()
    state = _state(managed, client, "limited", "s3cret")
    try:
        with pytest.raises(StateUnavailable) as refused:
            await state.acquire(CHECKS, NOW)
        assert refused.value.kind == "noperm", refused.value
        assert await state.ping()  # a refusal is no outage: the gate stays open
    finally:
        await state.aclose()


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_redis_that_refuses_the_gateway_is_said_at_start(
    managed: RedisServer, client: RedisClientName
) -> None:
    """A wrong password, a db index the user may not SELECT (Cluster and several managed
    services have db 0 only), a client name it may not set: until 2026-12-06 the start said
    nothing (or that INFO was refused), and only the per-call errors told."""
    _add_user(managed, "nodb", *documented_acl())  # no +select
    urls = {
        "WRONGPASS": f"redis://gateway:wrong@127.0.0.1:{managed.port}/0",
        "'select'": f"redis://nodb:s3cret@127.0.0.1:{managed.port}/2",
    }
    if client == "redis-py":  # CLIENT SETNAME, which the minimal user may not send
        urls["'client'"] = f"redis://nodb:s3cret@127.0.0.1:{managed.port}/0?client_name=gw"
    for said, url in urls.items():
        state = RedisState(RedisOptions(url=url, client=client, timeout_s=TEST_TIMEOUT_S))
        try:
            (warning,) = await state.warnings()
            assert warning.startswith("redis refuses the gateway") and said in warning
            with pytest.raises(StateUnavailable):
                await state.acquire(CHECKS, NOW)
        finally:
            await state.aclose()
