"""gateway.config.load: problems in [server], [state] and [admin], with exact lines."""

from __future__ import annotations

from pathlib import Path

from tests.unit.config.problems import problems


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


def test_cors_origins_are_origins(tmp_path: Path) -> None:
    good = '[server]\ncors_origins = ["*", "https://app.example.com", "http://localhost:3000"]\n'
    assert problems(tmp_path, good) == []
    assert problems(tmp_path, '[server]\ncors_origins = ["https://app.example.com/"]\n') == [
        "config.toml:2: server.cors_origins: 'https://app.example.com/' is not an origin: "
        "write '*' or scheme://host[:port], without a path or a trailing '/'"
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
