"""How to reach Redis (`[state]` settings), and which client does it.

`[state] client = "auto" | "redis-py" | "resp"`, in the manner of uvicorn's `http = "auto"`:
redis-py (`redispy.py`) is the reference and serves every deployment shape; the hand-written
RESP client (`resp.py`) is a fast path for one standalone server. `auto` picks the fast path
only for what it fully supports: a `redis://` or `unix://` URL with no option but the db, no
Sentinel, no Cluster. Everything else (`rediss://` and its TLS options, Sentinel, Cluster, any
other URL option) goes to redis-py; asking for `resp` there is a config error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from gateway.state.redis.keys import DEFAULT_PREFIX
from gateway.state.redis.resp import Address

ClientName = Literal["resp", "redis-py"]
DEFAULT_URL = "redis://127.0.0.1:6379/0"
# The URL options redis-py takes (anything else would fail at the first connection).
REDIS_PY_URL_OPTIONS = frozenset(
    {
        "db", "socket_timeout", "socket_connect_timeout", "socket_keepalive", "protocol",
        "health_check_interval", "client_name", "max_connections", "ssl_cert_reqs",
        "ssl_ca_certs", "ssl_ca_path", "ssl_ca_data", "ssl_certfile", "ssl_keyfile",
        "ssl_password", "ssl_check_hostname", "ssl_min_version", "ssl_ciphers",
    }
)  # fmt: skip


@dataclass(frozen=True)
class RedisOptions:
    """Where Redis is and how to talk to it (`[state]`, converted by the app)."""

    url: str = field(default=DEFAULT_URL, repr=False)  # may hold a password
    client: Literal["auto", "resp", "redis-py"] = "auto"
    timeout_s: float = 0.25
    connect_timeout_s: float = 1.0
    cluster: bool = False
    sentinels: tuple[tuple[str, int], ...] = ()
    sentinel_master: str = "mymaster"
    sentinel_password: str | None = field(default=None, repr=False)
    # The start of every key name (`keys.KeyNames`): gateways that share one Redis set their own.
    key_prefix: str = DEFAULT_PREFIX


# The URL options redis-py converts to numbers (a value that is none fails the first connection).
_INTEGER_OPTIONS = frozenset(
    {"db", "health_check_interval", "max_connections", "protocol", "ssl_min_version"}
)
_NUMBER_OPTIONS = frozenset({"socket_timeout", "socket_connect_timeout"})


def host_port(text: str) -> tuple[str, int]:
    """ "host:port" (IPv6 as "[::1]:26379"); raises ValueError."""
    if "@" in text or "/" in text:
        # A URL (`redis://:password@sentinel:26379`) passed the check below with all of it as
        # the host, and `GET /admin/config` showed it, password and all. Never quoted.
        raise ValueError(
            "expected host:port, not a URL or credentials (a Sentinel's password goes in "
            "sentinel_password_env)"
        )
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected host:port (port 0..65535), got {text!r}")
    return host.strip("[]"), int(port)


def url_problem(url: str) -> str | None:
    """Why no client could connect with `url` as written (its host, port, db or an option
    value), or None. The URL is never quoted: it may hold a password."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unclosed IPv6 bracket
        return f"not a valid URL: {exc}"
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is no number or past 65535
    except ValueError:
        # Not urllib's message: it quotes the port text, a password when the `@` is missing.
        return "the port must be a number from 0 to 65535"
    db = parts.path.lstrip("/") if parts.scheme != "unix" else ""
    if db and not db.isdigit():
        return "the database (the URL's path) must be a number"
    for name, values in parse_qs(parts.query).items():
        for value in values:
            if name in _INTEGER_OPTIONS and not _converts(int, value):
                return f"option {name} must be an integer"
            if name in _NUMBER_OPTIONS and not _converts(float, value):
                return f"option {name} must be a number"
    return None


def url_db(url: str) -> int:
    """The database index a URL selects (`?db=N` over the path's `/N`; 0 when it names none),
    for a URL `url_problem` accepts."""
    parts = urlsplit(url)
    text = parse_qs(parts.query).get("db", [""])[0] or (
        parts.path.lstrip("/") if parts.scheme != "unix" else ""
    )
    return int(text) if text.isdigit() else 0


def _converts(kind: type[int] | type[float], text: str) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def resp_lacks(options: RedisOptions) -> str | None:
    """What these options ask for that the RESP client cannot do (None: it can do it all)."""
    if options.cluster:
        return "Redis Cluster"
    if options.sentinels:
        return "Sentinel"
    try:
        Address.from_url(options.url)
    except ValueError as exc:
        return str(exc)
    return None


def unknown_url_options(url: str) -> list[str]:
    """URL options neither client knows."""
    return sorted(set(parse_qs(urlsplit(url).query)) - REDIS_PY_URL_OPTIONS)


def choose_client(options: RedisOptions) -> ClientName:
    """The client `options.client` names; for "auto", the RESP fast path only for a plain
    redis:// or unix:// URL (it supports all of that), else redis-py. Raises ValueError when
    "resp" is asked for what it cannot do."""
    if options.client == "resp":
        lacks = resp_lacks(options)
        if lacks is not None:
            raise ValueError(f'client = "resp" cannot serve this: {lacks}; use "redis-py"')
        return "resp"
    if options.client == "redis-py":
        return "redis-py"
    plain = not options.url.startswith("rediss://")
    return "resp" if plain and resp_lacks(options) is None else "redis-py"
