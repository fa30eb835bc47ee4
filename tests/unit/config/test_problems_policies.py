"""gateway.config.load: problems inside policy files, reported against the policy file, after
the config's own."""

from __future__ import annotations

from pathlib import Path

from tests.unit.config.problems import BASE, SHA, problems


def test_policy_problems_are_reported_in_the_policy_file(tmp_path: Path) -> None:
    strict = (
        "[limits]\n"  # 1
        "rpm = 0\n"  # 2
        'tpm = "many"\n'  # 3
        "budget_usd_per_day = -1\n"  # 4
        "max_concurrent = 1.5\n"  # 5
        "[cache]\n"  # 6
        'mode = "fuzzy"\n'  # 7
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
        "policies/strict.toml:7: cache.mode: must be one of 'off', 'exact', 'semantic', "
        "got 'fuzzy'",
        "policies/strict.toml:8: cache.ttl_s: must be between 1 and 315360000, got 0",
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


def test_model_limits_for_a_model_that_is_not_configured_are_refused(tmp_path: Path) -> None:
    strict = (
        "[model_limits.m]\n"  # 1
        "rpm = 5\n"  # 2
        '[model_limits."gtp-4o"]\n'  # 3
        "rpm = 1\n"  # 4
    )
    text = BASE + f'[[keys]]\nid = "k"\nkey_sha256 = "{SHA}"\npolicy = "strict"\n'
    assert problems(tmp_path, text, policies={"strict": strict}) == [
        "policies/strict.toml:3: policy 'strict': [model_limits.\"gtp-4o\"] names a model that "
        "is not configured",
    ]


def test_a_recognizer_entity_of_another_type_is_a_problem_not_an_exception(
    tmp_path: Path,
) -> None:
    strict = (
        "[[guardrails]]\n"  # 1
        'name = "pii"\n'  # 2
        'type = "pii"\n'  # 3
        'entities = ["EMAIL_ADDRESS"]\n'  # 4
        "[[guardrails.recognizers]]\n"  # 5
        "entity = [1]\n"  # 6
        'patterns = ["x+"]\n'  # 7
    )
    text = BASE + f'[[keys]]\nid = "k"\nkey_sha256 = "{SHA}"\npolicy = "strict"\n'
    assert problems(tmp_path, text, policies={"strict": strict}) == [
        "policies/strict.toml:6: guardrails[0].recognizers[0].entity: expected string, got array",
    ]
