"""gateway.config.load: problems in [server], [state] and [admin], with exact lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config.problems import BASE, SHA, problems


def test_server_ranges(tmp_path: Path) -> None:
    text = "[server]\nport = 65536\nworkers = 0\nmax_body_bytes = 0\nrequest_timeout_s = -1\n"
    assert problems(tmp_path, text) == [
        "config.toml:2: server.port: must be between 1 and 65535, got 65536",
        "config.toml:3: server.workers: must be between 1 and 256, got 0",
        "config.toml:4: server.max_body_bytes: must be greater than 0, got 0",
        "config.toml:5: server.request_timeout_s: must be greater than 0, got -1",
    ]


def test_workers_are_bounded(tmp_path: Path) -> None:
    """Each worker is a process: a vast count forked until memory ran out."""
    assert problems(tmp_path, "[server]\nworkers = 100000000000000000000\n") == [
        "config.toml:2: server.workers: must be between 1 and 256, got 100000000000000000000"
    ]
    assert problems(tmp_path, "[server]\nworkers = 256\n") == []


def test_redis_backend_needs_a_url(tmp_path: Path) -> None:
    assert problems(tmp_path, '[state]\nbackend = "redis"\n') == [
        "config.toml:2: state.redis_url is required when backend = 'redis'"
    ]
    assert problems(tmp_path, '[state]\nredis_url = "localhost:6379"\n') == [
        "config.toml:2: state.redis_url must start with redis://, rediss:// or unix://"
    ]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://[::1", "not a valid URL: Invalid IPv6 URL"),
        ("redis://h:notaport/0", "the port must be a number from 0 to 65535"),
        ("redis://gw:SECRET", "the port must be a number from 0 to 65535"),
        ("redis://h:99999/0", "the port must be a number from 0 to 65535"),
        ("redis://h:6379/zero", "the database (the URL's path) must be a number"),
        ("redis://h:6379/?db=abc", "option db must be an integer"),
        ("redis://h/?health_check_interval=abc", "option health_check_interval must be an integer"),
        ("redis://h/?socket_timeout=soon", "option socket_timeout must be a number"),
    ],
)
def test_redis_url_that_no_client_can_use(tmp_path: Path, url: str, problem: str) -> None:
    """Each passed check, then serve died at start (ValueError from urllib or redis-py)."""
    text = f'[state]\nbackend = "redis"\nredis_url = "{url}"\n'
    assert problems(tmp_path, text) == [f"config.toml:3: state.redis_url: {problem}"]


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ('""', "must not be empty"),
        (f'"{"p" * 65}"', "must be at most 64 characters, got 65"),
        ('"prod{limits}"', 'may hold only letters, digits, "-", "_" and ".", got \'{\', \'}\''),
        ('"a}"', "got '}'"),
        ('"team:a"', "got ':'"),
        ('"team*"', "got '*'"),
        ('"my gw"', "got ' '"),
        ('"gw\\t"', "got '\\t'"),
        ('"gw\\u0000"', "got '\\x00'"),
        ('"gw\\u00e9"', "got 'é'"),
    ],
)
def test_a_key_prefix_that_would_break_the_key_layout(
    tmp_path: Path, prefix: str, problem: str
) -> None:
    """Braces would move a script's keys to different Cluster slots; ":", "*" or a space would
    make one gateway's ACL pattern `~<prefix>:*` match another's keys."""
    found = problems(tmp_path, f'[state]\nbackend = "memory"\nkey_prefix = {prefix}\n')
    assert len(found) == 1 and found[0].startswith("config.toml:3: state.key_prefix: "), found
    assert problem in found[0]
    assert problems(tmp_path, '[state]\nkey_prefix = "staging-eu_team-a.v2"\n') == []
    assert problems(tmp_path, f'[state]\nkey_prefix = "{"p" * 64}"\n') == []


def test_redis_timeouts_are_bounded_by_a_day(tmp_path: Path) -> None:
    """A vast timeout_ms overflowed converting to seconds at start."""
    text = f"[state]\ntimeout_ms = 1{'0' * 400}\nconnect_timeout_ms = 86400001\n"
    assert problems(tmp_path, text) == [
        f"config.toml:2: state.timeout_ms: must be between 1 and 86400000, got 1{'0' * 400}",
        "config.toml:3: state.connect_timeout_ms: must be between 1 and 86400000, got 86400001",
    ]
    assert problems(tmp_path, "[state]\ntimeout_ms = 86400000\n") == []


def test_ttls_are_bounded_by_ten_years(tmp_path: Path) -> None:
    """Redis refuses an expiry near 2**63 ms: such a TTL would fail every write at run time."""
    policy = '[cache]\nmode = "exact"\nttl_s = 9223372036854775807\n'
    assert problems(
        tmp_path, "[state]\nresponses_ttl_s = 315360001\n", policies={"default": policy}
    ) == [
        "config.toml:2: state.responses_ttl_s: must be between 1 and 315360000, got 315360001",
        "policies/default.toml:3: cache.ttl_s: must be between 1 and 315360000, got "
        "9223372036854775807",
    ]
    longest = '[cache]\nmode = "exact"\nttl_s = 315360000\n'
    text = "[state]\nresponses_ttl_s = 315360000\n"
    assert problems(tmp_path, text, policies={"default": longest}) == []


def test_admin_key_env_must_be_set(tmp_path: Path) -> None:
    assert problems(tmp_path, '[admin]\nkey_env = "GW_ADMIN"\n') == [
        "config.toml:2: admin: environment variable GW_ADMIN is not set"
    ]


@pytest.mark.parametrize(
    "stored",
    [
        f'key_sha256 = "{SHA}"',
        'key_env = "GW_KEY"',
        # A secret being rotated out is still the key's.
        f'key_sha256 = "{"e" * 64}"\nprevious_key_sha256 = "{SHA}"',
    ],
)
def test_the_admin_key_cannot_be_a_gateway_key(tmp_path: Path, stored: str) -> None:
    """Before, it loaded: every holder of that gateway key (a browser app's users too) could
    read the config and reload it. The secret is never shown, only the key's id."""
    text = BASE + f'[[keys]]\nid = "app"\n{stored}\n[admin]\nkey_env = "GW_ADMIN"\n'
    env = {"GW_ADMIN": "sk-demo", "GW_KEY": "sk-demo"}
    line = 14 + stored.count("\n")  # the [admin] table's key_env
    assert problems(tmp_path, text, env=env) == [
        f"config.toml:{line}: admin: environment variable GW_ADMIN is the secret of gateway key "
        "'app': the admin key must be its own"
    ]
    assert problems(tmp_path, text, env={**env, "GW_ADMIN": "sk-admin-own"}) == []


def test_the_admin_key_cannot_be_a_provider_key(tmp_path: Path) -> None:
    """Before, it loaded: the admin key went upstream with every request to that provider."""
    provider = '[[providers]]\nname = "up"\ntype = "openai"\nbase_url = "http://h/v1"\n'
    text = BASE + provider + 'api_key_env = "UP_KEY"\n[admin]\nkey_env = "GW_ADMIN"\n'
    env = {"GW_ADMIN": "shared-secret-123", "UP_KEY": "shared-secret-123"}
    assert problems(tmp_path, text, env=env) == [
        "config.toml:16: admin: environment variable GW_ADMIN is the key of provider 'up': the "
        "admin key must be its own"
    ]
    assert problems(tmp_path, text, env={**env, "UP_KEY": "provider-own-key"}) == []


def test_an_admin_key_with_outer_whitespace_is_refused(tmp_path: Path) -> None:
    """The admin API strips the presented token: such a key locked the admin out (401)."""
    assert problems(tmp_path, '[admin]\nkey_env = "GW_ADMIN"\n', env={"GW_ADMIN": "adm\n"}) == [
        "config.toml:2: admin: environment variable GW_ADMIN has leading or trailing whitespace "
        "(a newline?), which no header can carry"
    ]


def test_cors_origins_are_origins(tmp_path: Path) -> None:
    good = '[server]\ncors_origins = ["*", "https://app.example.com", "http://localhost:3000"]\n'
    assert problems(tmp_path, good) == []
    assert problems(tmp_path, '[server]\ncors_origins = ["https://app.example.com/"]\n') == [
        "config.toml:2: server.cors_origins: 'https://app.example.com/' is not an origin: "
        "write '*' or scheme://host[:port], without a path or a trailing '/'"
    ]


def test_host_the_socket_cannot_take(tmp_path: Path) -> None:
    """Each passed check, then serve died at bind with a TypeError."""
    assert problems(tmp_path, '[server]\nhost = "a\\u0000b"\n') == [
        "config.toml:2: server.host: must not hold a NUL character"
    ]
    assert problems(tmp_path, f'[server]\nhost = "{"a" * 64}.example"\n') == [
        "config.toml:2: server.host: is not a host name (a label is empty or longer than 63 "
        "characters)"
    ]
    assert problems(tmp_path, '[server]\nhost = "::1"\n') == []


def test_cors_origin_port_out_of_range(tmp_path: Path) -> None:
    assert problems(tmp_path, '[server]\ncors_origins = ["http://a:99999"]\n') == [
        "config.toml:2: server.cors_origins: 'http://a:99999' has a port that is no number "
        "from 0 to 65535"
    ]


def test_paths_and_rotation_bounds(tmp_path: Path) -> None:
    """A NUL in a path would make every use of it raise; a vast `backups` would make every
    load list that many rotated files (each is read for the prompts' immutability check)."""
    text = 'policies_dir = "pol\\u0000"\n'
    text += '[logging]\npath = "logs/a\\u0000b.jsonl"\nbackups = 1000000000000\n'
    assert problems(tmp_path, text) == [
        "config.toml:1: policies_dir: a path cannot hold a NUL character",
        "config.toml:3: logging.path: a path cannot hold a NUL character",
        "config.toml:4: logging.backups: must be between 0 and 1000, got 1000000000000",
    ]


def test_log_paths_that_cannot_be_appended_to(tmp_path: Path) -> None:
    """serve died at start on each; a device or FIFO was also read by check (for ever)."""
    (tmp_path / "file").write_text("")
    text = '[logging]\npath = "/dev/null"\naudit_path = "file/audit.jsonl"\n'
    assert problems(tmp_path, text) == [
        "config.toml:2: logging.path: /dev/null exists and is not a regular file",
        "config.toml:3: logging.audit_path: file is not a directory",
    ]
    assert problems(tmp_path, f'[logging]\npath = "{tmp_path}"\n') == [
        f"config.toml:2: logging.path: {tmp_path} exists and is not a regular file"
    ]
    assert problems(tmp_path, '[logging]\npath = "new/dir/requests.jsonl"\n') == []


def test_tracing_endpoint_without_credentials(tmp_path: Path) -> None:
    """The OpenTelemetry exporter logged the endpoint, password and all, at each failed export."""
    text = '[tracing]\nendpoint = "http://user:SUPERSECRET@collector:4317"\n'
    assert problems(tmp_path, text) == [
        "config.toml:2: tracing.endpoint must not hold credentials (user:password@): send them "
        "as headers with the OTEL_EXPORTER_OTLP_TRACES_HEADERS environment variable"
    ]
    assert problems(tmp_path, '[tracing]\nendpoint = "http://collector:99999"\n') == [
        "config.toml:2: tracing.endpoint has a port that is no number from 0 to 65535"
    ]
    assert problems(tmp_path, '[tracing]\nendpoint = "http://collector:4317"\n') == []
