"""gateway.config.load: every kind of problem, as `file:line: message` with exact lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import check_config

# Lines 1-9; tests append to it, so appended text starts at line 10.
BASE = """\
[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "m"
[[models.deployments]]
provider = "mock"
model = "mock-small"
"""

SHA = "f77894fdfa58e447c57e077eaa9708e8e009c84dc6aba2db80461275e9b85be7"


def problems(
    root: Path, text: str, env: dict[str, str] | None = None, policies: dict[str, str] | None = None
) -> list[str]:
    """The problems of config `text` as strings, with file names relative to `root`."""
    for name, body in (policies or {}).items():
        (root / "policies").mkdir(exist_ok=True)
        (root / "policies" / f"{name}.toml").write_text(body)
    path = root / "config.toml"
    path.write_text(text)
    return [str(p).replace(f"{root}/", "") for p in check_config(path, env=env or {})]


def test_base_is_clean(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE) == []


# -- syntax ----------------------------------------------------------------------------------


def test_toml_syntax_error_has_line_and_no_position_suffix(tmp_path: Path) -> None:
    assert problems(tmp_path, '[server]\nhost = "a"\nport = \n') == ["config.toml:3: Invalid value"]


def test_toml_error_at_end_of_document_points_at_last_line(tmp_path: Path) -> None:
    assert problems(tmp_path, "a = 1\nb = [1,\n") == ["config.toml:2: Invalid value"]


def test_missing_config_file(tmp_path: Path) -> None:
    found = [str(p) for p in check_config(tmp_path / "nope.toml", env={})]
    assert found == [f"{tmp_path}/nope.toml:1: cannot read config file: No such file or directory"]


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b'a = "x"\nb = "\xff"\n')
    assert [str(p) for p in check_config(path, env={})] == [f"{path}:2: file is not valid UTF-8"]


# -- unknown keys and types -------------------------------------------------------------------


def test_unknown_keys_everywhere_name_their_table(tmp_path: Path) -> None:
    text = (
        "colour = 1\n"  # 1
        "[server]\n"  # 2
        "foo = 1\n"  # 3
        "[[providers]]\n"  # 4
        'name = "mock"\n'  # 5
        'type = "mock"\n'  # 6
        "secret = 2\n"  # 7
        "[[models]]\n"  # 8
        'name = "gpt"\n'  # 9
        "cost = 3\n"  # 10
        "[[models.deployments]]\n"  # 11
        'provider = "mock"\n'  # 12
        'model = "x"\n'  # 13
        "[[models.deployments]]\n"  # 14
        'provider = "mock"\n'  # 15
        'model = "y"\n'  # 16
        "timeout = 4\n"  # 17
        "[[keys]]\n"  # 18
        f'id = "k"\nkey_sha256 = "{SHA}"\n'  # 19, 20
        "role = 5\n"  # 21
        "[state]\nbackend = 'memory'\nredis = 1\n"  # 22-24
        "[logging]\nrotate = 1\n"  # 25, 26
        "[admin]\nkey = 'x'\n"  # 27, 28
    )
    assert problems(tmp_path, text) == [
        "config.toml:1: unknown key 'colour' at top level",
        "config.toml:3: unknown key 'foo' in [server]",
        "config.toml:7: unknown key 'secret' in [[providers]] 'mock'",
        "config.toml:10: unknown key 'cost' in [[models]] 'gpt'",
        "config.toml:17: unknown key 'timeout' in [[models]] 'gpt' deployments[1]",
        "config.toml:21: unknown key 'role' in [[keys]] 'k'",
        "config.toml:24: unknown key 'redis' in [state]",
        "config.toml:26: unknown key 'rotate' in [logging]",
        "config.toml:28: unknown key 'key' in [admin]",
    ]


def test_wrong_types(tmp_path: Path) -> None:
    text = BASE + (
        "weight = 'heavy'\n"  # 10
        "[server]\n"  # 11
        'port = "8080"\n'  # 12
        "workers = true\n"  # 13
        "request_timeout_s = false\n"  # 14
        "[logging]\n"  # 15
        "include_bodies = 1\n"  # 16
        "path = 3\n"  # 17
    )
    assert problems(tmp_path, text) == [
        "config.toml:10: models[0].deployments[0].weight: expected number, got string",
        "config.toml:12: server.port: expected integer, got string",
        "config.toml:13: server.workers: expected integer, got boolean",
        "config.toml:14: server.request_timeout_s: expected number, got boolean",
        "config.toml:16: logging.include_bodies: expected boolean, got integer",
        "config.toml:17: logging.path: expected string, got integer",
    ]


def test_float_where_integer_expected_is_rejected(tmp_path: Path) -> None:
    assert problems(tmp_path, "[server]\nport = 80.0\n") == [
        "config.toml:2: server.port: expected integer, got float"
    ]


def test_sections_of_the_wrong_shape(tmp_path: Path) -> None:
    text = (
        'server = 1\n[providers]\nname = "x"\n'
        '[[models]]\nname = "m"\nfallbacks = "other"\ndeployments = ["x"]\n'
    )
    assert problems(tmp_path, text) == [
        "config.toml:1: server: expected table, got integer",
        "config.toml:2: providers: expected array of tables ([[providers]]), got table",
        "config.toml:6: models[0].fallbacks: expected array of strings, got string",
        "config.toml:7: models[0].deployments[0]: expected table, got string",
    ]


def test_enum_values(tmp_path: Path) -> None:
    text = BASE.replace('name = "m"\n', 'name = "m"\nstrategy = "fastest"\n') + (
        "[state]\n"  # 11
        'backend = "mysql"\n'  # 12
    )
    assert problems(tmp_path, text) == [
        (
            "config.toml:7: models[0].strategy: must be one of 'weighted', 'round_robin', "
            "'least_busy', 'lowest_latency', 'lowest_cost', 'usage_based', got 'fastest'"
        ),
        "config.toml:12: state.backend: must be one of 'memory', 'redis', got 'mysql'",
    ]


# -- ranges -------------------------------------------------------------------------------------


def test_server_ranges(tmp_path: Path) -> None:
    text = "[server]\nport = 65536\nworkers = 0\nmax_body_bytes = 0\nrequest_timeout_s = -1\n"
    assert problems(tmp_path, text) == [
        "config.toml:2: server.port: must be between 1 and 65535, got 65536",
        "config.toml:3: server.workers: must be at least 1, got 0",
        "config.toml:4: server.max_body_bytes: must be greater than 0, got 0",
        "config.toml:5: server.request_timeout_s: must be greater than 0, got -1",
    ]


def test_deployment_ranges(tmp_path: Path) -> None:
    text = (
        BASE
        + "weight = 0\ninput_cost_per_1m = -0.5\ncontext_window = 0\n"
        + "idle_timeout_s = 0\nrpm = nan\n"
    )
    assert problems(tmp_path, text) == [
        # weight 0 is allowed (a canary rolled back), but not on every deployment of a model.
        "config.toml:7: model 'm': at least one deployment needs a weight above 0",
        "config.toml:11: models[0].deployments[0].input_cost_per_1m: must be at least 0, got -0.5",
        "config.toml:12: models[0].deployments[0].context_window: must be greater than 0, got 0",
        "config.toml:13: models[0].deployments[0].idle_timeout_s: must be greater than 0, got 0",
        "config.toml:14: models[0].deployments[0].rpm: expected integer, got float",
    ]


def test_redis_backend_needs_a_url(tmp_path: Path) -> None:
    assert problems(tmp_path, '[state]\nbackend = "redis"\n') == [
        "config.toml:2: state.redis_url is required when backend = 'redis'"
    ]
    assert problems(tmp_path, '[state]\nredis_url = "localhost:6379"\n') == [
        "config.toml:2: state.redis_url must start with redis://, rediss:// or unix://"
    ]


# -- providers --------------------------------------------------------------------------------


def test_provider_problems(tmp_path: Path) -> None:
    text = BASE + (
        "[[providers]]\n"  # 10
        'name = "oai"\n'  # 11
        'type = "openai"\n'  # 12
        'api_key_env = "OPENAI_API_KEY"\n'  # 13
        "[[providers]]\n"  # 14
        'name = "ant"\n'  # 15
        'type = "anthropic"\n'  # 16
        'base_url = "api.anthropic.com"\n'  # 17
        "[[providers]]\n"  # 18
        'name = "mock"\n'  # 19
        'type = "mock"\n'  # 20
        "[[providers]]\n"  # 21
        'name = "x"\n'  # 22
        'type = "azure"\n'  # 23
        "[[providers]]\n"  # 24
        'type = "mock"\n'  # 25
    )
    assert problems(tmp_path, text) == [
        "config.toml:10: provider 'oai': base_url is required for type 'openai'",
        "config.toml:13: provider 'oai': environment variable OPENAI_API_KEY is not set",
        "config.toml:17: provider 'ant': base_url must start with http:// or https://",
        "config.toml:19: duplicate provider name 'mock'",
        "config.toml:23: providers[4].type: must be one of 'openai', 'anthropic', 'mock', "
        "got 'azure'",
        "config.toml:24: missing key 'name' in [[providers]][5]",
    ]


def test_provider_env_var_set_but_empty(tmp_path: Path) -> None:
    text = (
        BASE
        + '[[providers]]\nname = "o"\ntype = "openai"\nbase_url = "http://h/v1"\n'
        + 'api_key_env = "K"\n'
    )
    assert problems(tmp_path, text, env={"K": ""}) == [
        "config.toml:14: provider 'o': environment variable K is empty"
    ]
    assert problems(tmp_path, text, env={"K": "v"}) == []


def test_admin_key_env_must_be_set(tmp_path: Path) -> None:
    assert problems(tmp_path, '[admin]\nkey_env = "GW_ADMIN"\n') == [
        "config.toml:2: admin: environment variable GW_ADMIN is not set"
    ]


# -- models -----------------------------------------------------------------------------------


def test_model_problems(tmp_path: Path) -> None:
    text = BASE.replace('name = "m"\n', 'name = "m"\nfallbacks = ["zzz", "m", "n"]\n') + (
        "[[models]]\n"  # 11
        'name = "n"\n'  # 12
        "[[models]]\n"  # 13
        'name = "o"\n'  # 14
        "[[models.deployments]]\n"  # 15
        'provider = "nope"\n'  # 16
        'model = "x"\n'  # 17
        "[[models.deployments]]\n"  # 18
        'model = "y"\n'  # 19
        "[[models]]\n"  # 20
        'name = "m"\n'  # 21
        "deployments = []\n"  # 22
    )
    assert problems(tmp_path, text) == [
        "config.toml:7: model 'm': fallback 'zzz' is not a configured model",
        "config.toml:7: model 'm': a model cannot fall back to itself",
        "config.toml:11: model 'n' has no deployment",
        "config.toml:16: model 'o' deployments[0]: provider 'nope' is not a configured provider",
        "config.toml:18: missing key 'provider' in [[models]] 'o' deployments[1]",
        "config.toml:21: duplicate model name 'm'",
        "config.toml:22: model 'm' has no deployment",
    ]


def test_fallback_on_its_own_line_is_reported_there(tmp_path: Path) -> None:
    text = BASE.replace('name = "m"\n', 'name = "m"\nfallbacks = [\n  "m",\n  "zzz",\n]\n')
    assert problems(tmp_path, text) == [
        "config.toml:8: model 'm': a model cannot fall back to itself",
        "config.toml:9: model 'm': fallback 'zzz' is not a configured model",
    ]


def test_repeated_deployment(tmp_path: Path) -> None:
    text = BASE + '[[models.deployments]]\nprovider = "mock"\nmodel = "mock-small"\n'
    assert problems(tmp_path, text) == [
        "config.toml:10: model 'm' deployments[1]: repeats deployment 'mock/mock-small'"
    ]


# -- keys ---------------------------------------------------------------------------------------


def test_key_problems(tmp_path: Path) -> None:
    text = BASE + (
        "[[keys]]\n"  # 10
        'id = "both"\n'  # 11
        f'key_sha256 = "{SHA}"\n'  # 12
        'key_env = "K"\n'  # 13
        "[[keys]]\n"  # 14
        'id = "neither"\n'  # 15
        "[[keys]]\n"  # 16
        'id = "short"\n'  # 17
        'key_sha256 = "abc123"\n'  # 18
        "[[keys]]\n"  # 19
        'id = "unset"\n'  # 20
        'key_env = "GW_UNSET"\n'  # 21
        "[[keys]]\n"  # 22
        'id = "models"\n'  # 23
        f'key_sha256 = "{"1" * 64}"\n'  # 24
        'models = ["m", "zzz"]\n'  # 25
        "[[keys]]\n"  # 26
        'id = "empty"\n'  # 27
        f'key_sha256 = "{"2" * 64}"\n'  # 28
        "models = []\n"  # 29
        "[[keys]]\n"  # 30
        f'key_sha256 = "{"3" * 64}"\n'  # 31
    )
    assert problems(tmp_path, text) == [
        "config.toml:13: key 'both': set either key_sha256 or key_env, not both",
        "config.toml:14: key 'neither': one of key_sha256 or key_env is required",
        "config.toml:18: key 'short': key_sha256 must be 64 hex characters "
        "(see `gateway keys hash SECRET`)",
        "config.toml:21: key 'unset': environment variable GW_UNSET is not set",
        "config.toml:25: key 'models': model 'zzz' is not a configured model",
        "config.toml:29: key 'empty': models is empty (omit it to allow every model)",
        "config.toml:30: missing key 'id' in [[keys]][6]",
    ]


def test_duplicate_key_ids_and_secrets(tmp_path: Path) -> None:
    text = BASE + (
        f'[[keys]]\nid = "a"\nkey_sha256 = "{SHA}"\n'  # 10-12
        f'[[keys]]\nid = "a"\nkey_sha256 = "{"e" * 64}"\n'  # 13-15
        f'[[keys]]\nid = "b"\nkey_sha256 = "{SHA.upper()}"\n'  # 16-18
        '[[keys]]\nid = "c"\nkey_env = "DEMO"\n'  # 19-21
    )
    assert problems(tmp_path, text, env={"DEMO": "sk-demo"}) == [
        "config.toml:14: duplicate key id 'a'",
        "config.toml:18: key 'b': same secret as key 'a'",
        "config.toml:21: key 'c': same secret as key 'a'",
    ]


def test_key_policy_not_found_points_at_the_policy_line(tmp_path: Path) -> None:
    text = BASE + f'[[keys]]\nid = "k"\nkey_sha256 = "{SHA}"\npolicy = "strict"\n'
    assert problems(tmp_path, text) == [
        "config.toml:13: key 'k': policy 'strict' not found (looked for policies/strict.toml)"
    ]


def test_missing_policy_path_is_shown_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.toml").write_text(
        BASE + f'[[keys]]\nid = "k"\nkey_sha256 = "{SHA}"\npolicy = "strict"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert [str(p) for p in check_config("config.toml", env={})] == [
        "config.toml:13: key 'k': policy 'strict' not found (looked for policies/strict.toml)"
    ]


def test_key_policy_name_cannot_be_a_path(tmp_path: Path) -> None:
    text = BASE + f'[[keys]]\nid = "k"\nkey_sha256 = "{SHA}"\npolicy = "../etc/x"\n'
    assert problems(tmp_path, text) == [
        "config.toml:13: key 'k': policy name '../etc/x' may only use letters, digits, "
        "'.', '-' and '_'"
    ]


def test_policies_dir_is_relative_to_the_config(tmp_path: Path) -> None:
    text = (
        'policies_dir = "conf/pol"\n'
        + BASE
        + f'[[keys]]\nid = "k"\nkey_sha256 = "{SHA}"\npolicy = "p"\n'
    )
    assert problems(tmp_path, text) == [
        "config.toml:14: key 'k': policy 'p' not found (looked for conf/pol/p.toml)"
    ]


# -- policies -----------------------------------------------------------------------------------


def test_policy_problems_are_reported_in_the_policy_file(tmp_path: Path) -> None:
    strict = (
        "[limits]\n"  # 1
        "rpm = 0\n"  # 2
        'tpm = "many"\n'  # 3
        "budget_usd_per_day = -1\n"  # 4
        "max_concurrent = 1.5\n"  # 5
        "[cache]\n"  # 6
        'mode = "semantic"\n'  # 7
        "ttl_s = 0\n"  # 8
        "per_team = 1\n"  # 9
        "[[guardrails]]\n"  # 10
        'type = "pii"\n'  # 11
    )
    text = BASE + f'[[keys]]\nid = "k"\nkey_sha256 = "{SHA}"\npolicy = "strict"\n'
    assert problems(tmp_path, text, policies={"strict": strict}) == [
        "policies/strict.toml:2: limits.rpm: must be greater than 0, got 0",
        "policies/strict.toml:3: limits.tpm: expected integer, got string",
        "policies/strict.toml:4: limits.budget_usd_per_day: must be at least 0, got -1",
        "policies/strict.toml:5: limits.max_concurrent: expected integer, got float",
        "policies/strict.toml:7: cache.mode: must be one of 'off', 'exact', got 'semantic'",
        "policies/strict.toml:8: cache.ttl_s: must be greater than 0, got 0",
        "policies/strict.toml:9: cache.per_team: expected boolean, got integer",
        "policies/strict.toml:10: missing key 'name' in [[guardrails]][0]",
    ]


def test_default_policy_is_checked_when_present(tmp_path: Path) -> None:
    default = "[limits]\nrpm = 10\n\n[cache]\nmode = 'exact'\nttl = 5\n"
    assert problems(tmp_path, BASE, policies={"default": default}) == [
        "policies/default.toml:6: unknown key 'ttl' in [cache]"
    ]


def test_policy_syntax_error(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE, policies={"default": "[limits]\nrpm = = 1\n"}) == [
        "policies/default.toml:2: Invalid value"
    ]


def test_config_problems_come_first_then_policies_by_line(tmp_path: Path) -> None:
    text = "[server]\nport = 0\n" + BASE.replace('name = "m"', 'name = "m"\nbogus = 1')
    found = problems(tmp_path, text, policies={"default": "[limits]\nrpm = 0\n"})
    assert found == [
        "config.toml:2: server.port: must be between 1 and 65535, got 0",
        "config.toml:9: unknown key 'bogus' in [[models]] 'm'",
        "policies/default.toml:2: limits.rpm: must be greater than 0, got 0",
    ]


# -- secrets ------------------------------------------------------------------------------------


SECRETS = {
    "OPENAI_API_KEY": "sk-openai-s3cr3t-1",
    "EMPTYISH": "sk-key-s3cr3t-2",
    "DUP": "sk-key-s3cr3t-2",
}


@pytest.mark.parametrize(
    "extra",
    [
        # A raw secret pasted into key_sha256 by mistake.
        '[[keys]]\nid = "a"\nkey_sha256 = "sk-live-s3cr3t-3"\n',
        # Two keys whose environment variables hold the same secret.
        '[[keys]]\nid = "a"\nkey_env = "EMPTYISH"\n[[keys]]\nid = "b"\nkey_env = "DUP"\n',
        # A provider URL with credentials in it and a wrong scheme.
        (
            '[[providers]]\nname = "o"\ntype = "openai"\nbase_url = "ftp://user:s3cr3t-4@h"\n'
            'api_key_env = "OPENAI_API_KEY"\n'
        ),
    ],
)
def test_secret_values_never_appear_in_messages(tmp_path: Path, extra: str) -> None:
    found = problems(tmp_path, BASE + extra, env=SECRETS)
    assert found  # each case has a problem
    for message in found:
        assert "s3cr3t" not in message
        for value in SECRETS.values():
            assert value not in message
