"""gateway.config.load: the happy paths, derived values and the config version."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from types import MappingProxyType

import pytest

from gateway.config import (
    ConfigError,
    GatewayConfig,
    Problem,
    Timeouts,
    check_config,
    hash_key,
    load_config,
)

REPO = Path(__file__).resolve().parents[3]

FULL = """\
policies_dir = "pol"

[server]
host = "0.0.0.0"
port = 9000
workers = 2
max_body_bytes = 1024
request_timeout_s = 30

[state]
backend = "redis"
redis_url = "redis://localhost:6379/0"
on_redis_error = "fail_closed"

[logging]
path = "out/requests.jsonl"
include_bodies = true
redact_pii_in_logs = true
max_bytes = 2048
backups = 0

[admin]
key_env = "ADMIN_KEY"

[[providers]]
name = "oai"
type = "openai"
base_url = "https://api.openai.com/v1"
api_key_env = "OPENAI_API_KEY"

[[providers]]
name = "ant"
type = "anthropic"
base_url = "https://api.anthropic.com"
anthropic_version = "2024-01-01"

[[models]]
name = "gpt"
strategy = "lowest_cost"
fallbacks = ["claude"]

[[models.deployments]]
provider = "oai"
model = "gpt-4o"
weight = 3
input_cost_per_1m = 2.5
output_cost_per_1m = 10
cached_input_cost_per_1m = 1.25
context_window = 128000
rpm = 100
tpm = 20000
connect_timeout_s = 1
first_token_timeout_s = 2.5
idle_timeout_s = 3
total_timeout_s = 4

[[models.deployments]]
provider = "ant"
model = "claude-x"

[[models]]
name = "claude"
deployments = [{ provider = "ant", model = "claude-y" }]

[[keys]]
id = "alice"
team = "blue"
policy = "strict"
key_sha256 = "F77894FDFA58E447C57E077EAA9708E8E009C84DC6ABA2DB80461275E9B85BE7"
models = ["gpt"]

[[keys]]
id = "bob"
key_env = "BOB_KEY"
"""

STRICT = """\
[limits]
rpm = 10
tpm = 1000
max_concurrent = 2
budget_usd_per_day = 1
budget_usd_per_month = 20.5

[cache]
mode = "exact"
ttl_s = 60
per_team = false
"""

ENV = {"ADMIN_KEY": "adm", "OPENAI_API_KEY": "sk-openai", "BOB_KEY": "sk-bob"}


def write_full(root: Path, strict: str = STRICT) -> Path:
    (root / "pol").mkdir(parents=True)
    (root / "pol" / "strict.toml").write_text(strict)
    config = root / "gateway.toml"
    config.write_text(FULL)
    return config


def test_example_config_loads_cleanly_without_any_environment() -> None:
    path = REPO / "config.example.toml"
    assert check_config(path, env={}) == []
    config = load_config(path, env={})
    assert list(config.models) == [
        "gpt-4o-mini",
        "claude-3-5-haiku",
        "echo",
        "text-embedding-3-small",
    ]
    assert config.server.host == "127.0.0.1" and config.server.port == 8080
    assert config.state.backend == "memory"
    assert config.logging.path == REPO / "logs" / "requests.jsonl"
    assert [p.type for p in config.providers.values()] == ["mock"]
    (demo,) = config.keys
    assert (demo.id, demo.team, demo.policy) == ("demo", "demo", "default")
    assert demo.key_sha256 == hash_key("sk-demo")
    assert config.policies["default"].cache.mode == "off"
    embed = config.models["text-embedding-3-small"].deployments[0]
    assert embed.model == "mock-embed" and embed.input_cost_per_1m > 0


def test_every_field_is_read(tmp_path: Path) -> None:
    config = load_config(write_full(tmp_path), env=ENV)
    assert isinstance(config, GatewayConfig)
    assert (config.server.host, config.server.port, config.server.workers) == ("0.0.0.0", 9000, 2)
    assert config.server.max_body_bytes == 1024
    assert config.server.request_timeout_s == 30.0 and isinstance(
        config.server.request_timeout_s, float
    )
    assert (config.state.backend, config.state.on_redis_error) == ("redis", "fail_closed")
    assert config.state.redis_url == "redis://localhost:6379/0"
    assert config.logging.path == tmp_path / "out" / "requests.jsonl"
    assert (config.logging.include_bodies, config.logging.redact_pii_in_logs) == (True, True)
    assert (config.logging.max_bytes, config.logging.backups) == (2048, 0)
    assert config.admin.key_env == "ADMIN_KEY"
    assert config.providers["oai"].api_key_env == "OPENAI_API_KEY"
    assert config.providers["ant"].anthropic_version == "2024-01-01"
    assert config.providers["ant"].api_key_env is None

    gpt = config.models["gpt"]
    assert (gpt.strategy, gpt.fallbacks) == ("lowest_cost", ("claude",))
    first, second = gpt.deployments
    assert first.name == "oai/gpt-4o" and first.weight == 3.0
    assert (first.input_cost_per_1m, first.output_cost_per_1m, first.cached_input_cost_per_1m) == (
        2.5,
        10.0,
        1.25,
    )
    assert (first.context_window, first.rpm, first.tpm) == (128000, 100, 20000)
    assert first.timeouts == Timeouts(connect_s=1.0, first_token_s=2.5, idle_s=3.0, total_s=4.0)
    assert second.timeouts == Timeouts() and second.cached_input_cost_per_1m is None
    assert config.models["claude"].deployments[0].name == "ant/claude-y"

    alice, bob = config.keys
    assert alice.key_sha256 == hash_key("sk-demo")  # lower-cased
    assert (alice.team, alice.policy, alice.models) == ("blue", "strict", ("gpt",))
    assert bob.key_sha256 == hash_key("sk-bob")
    assert (bob.team, bob.policy, bob.models) == (None, "default", None)

    strict = config.policies["strict"]
    assert (strict.limits.rpm, strict.limits.tpm, strict.limits.max_concurrent) == (10, 1000, 2)
    assert (strict.limits.budget_usd_per_day, strict.limits.budget_usd_per_month) == (1.0, 20.5)
    assert (strict.cache.mode, strict.cache.ttl_s, strict.cache.per_team) == ("exact", 60, False)
    assert config.policies["default"].limits.rpm is None  # no pol/default.toml: empty policy
    assert config.policies_dir == tmp_path / "pol"
    assert config.source == (tmp_path / "gateway.toml").resolve()


def test_mappings_are_read_only_and_keep_file_order(tmp_path: Path) -> None:
    config = load_config(write_full(tmp_path), env=ENV)
    for mapping in (config.providers, config.models, config.policies):
        assert isinstance(mapping, MappingProxyType)
    assert list(config.providers) == ["oai", "ant"]
    assert list(config.models) == ["gpt", "claude"]


def test_relative_paths_follow_the_config_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    (config_dir / "policies").mkdir()
    (config_dir / "policies" / "default.toml").write_text("[limits]\nrpm = 5\n")
    (config_dir / "c.toml").write_text("")
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config("../etc/c.toml", env={})
    assert config.logging.path == config_dir / "logs" / "requests.jsonl"
    assert config.policies_dir == config_dir / "policies"
    assert config.policies["default"].limits.rpm == 5


def test_empty_file_gives_all_defaults(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("")
    config = load_config(tmp_path / "c.toml", env={})
    assert config.models == {} and config.keys == () and list(config.policies) == ["default"]
    assert config.server.port == 8080 and config.state.backend == "memory"


def test_version_is_stable_across_loads_and_directories(tmp_path: Path) -> None:
    first = load_config(write_full(tmp_path / "a"), env=ENV).version
    assert len(first) == 12 and int(first, 16) >= 0
    assert load_config(tmp_path / "a" / "gateway.toml", env=ENV).version == first
    assert load_config(write_full(tmp_path / "b"), env=ENV).version == first


def test_version_changes_with_a_policy_edit(tmp_path: Path) -> None:
    before = load_config(write_full(tmp_path), env=ENV).version
    (tmp_path / "pol" / "strict.toml").write_text(STRICT.replace("rpm = 10", "rpm = 11"))
    after = load_config(tmp_path / "gateway.toml", env=ENV).version
    assert after != before
    (tmp_path / "pol" / "default.toml").write_text("")  # a new default policy file counts too
    assert load_config(tmp_path / "gateway.toml", env=ENV).version not in (before, after)


def test_version_changes_with_a_config_edit(tmp_path: Path) -> None:
    path = write_full(tmp_path)
    before = load_config(path, env=ENV).version
    path.write_text(FULL.replace("port = 9000", "port = 9001"))
    assert load_config(path, env=ENV).version != before


def test_policy_files_not_referenced_are_ignored(tmp_path: Path) -> None:
    path = write_full(tmp_path)
    before = load_config(path, env=ENV).version
    (tmp_path / "pol" / "unused.toml").write_text("this is not toml [")
    config = load_config(path, env=ENV)
    assert config.version == before and "unused" not in config.policies


def test_load_config_raises_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 0\nworkers = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.problems == (
        Problem(str(path), 2, "server.port: must be between 1 and 65535, got 0"),
        Problem(str(path), 3, "server.workers: must be between 1 and 256, got 0"),
    )
    assert str(caught.value) == (
        f"{path}:2: server.port: must be between 1 and 65535, got 0\n"
        f"{path}:3: server.workers: must be between 1 and 256, got 0"
    )
    assert pickle.loads(pickle.dumps(caught.value)).problems == caught.value.problems


def test_env_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[keys]]\nid = "k"\nkey_env = "GW_TEST_KEY_ENV"\n')
    monkeypatch.delenv("GW_TEST_KEY_ENV", raising=False)
    assert [p.message for p in check_config(path)] == [
        "key 'k': environment variable GW_TEST_KEY_ENV is not set"
    ]
    monkeypatch.setenv("GW_TEST_KEY_ENV", "sk-from-os")
    assert load_config(path).keys[0].key_sha256 == hash_key("sk-from-os")


def test_hash_key_is_hex_sha256() -> None:
    assert hash_key("sk-demo") == "f77894fdfa58e447c57e077eaa9708e8e009c84dc6aba2db80461275e9b85be7"


def test_example_config_copied_elsewhere_uses_its_own_policies_dir(tmp_path: Path) -> None:
    shutil.copy(REPO / "config.example.toml", tmp_path / "config.toml")
    config = load_config(tmp_path / "config.toml", env={})
    assert config.policies_dir == tmp_path / "policies"
    assert config.policies["default"].cache.mode == "off"
