"""gateway.config.load: problems in [[providers]], with exact lines."""

from __future__ import annotations

from pathlib import Path

from tests.unit.config.problems import BASE, problems


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


def test_responses_flag_is_for_openai_type_providers(tmp_path: Path) -> None:
    text = (
        BASE
        + '[[providers]]\nname = "a"\ntype = "anthropic"\nbase_url = "http://h"\n'
        + "responses = true\n"
    )
    assert problems(tmp_path, text) == [
        "config.toml:14: provider 'a': responses applies to types 'openai' and 'mock' only"
    ]
