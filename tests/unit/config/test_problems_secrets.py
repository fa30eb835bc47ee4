"""gateway.config.load: no problem message ever repeats a secret value from the config or its
environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config.problems import BASE, problems

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
        # A provider key, or a gateway key, pasted where the variable's name goes.
        '[[providers]]\nname = "o"\ntype = "openai"\nbase_url = "https://h/v1"\n'
        'api_key_env = "sk-proj-s3cr3t-5"\n',
        '[[keys]]\nid = "a"\nkey_env = "sk-live-s3cr3t-6"\n',
        '[admin]\nkey_env = "adm s3cr3t 7"\n',
    ],
)
def test_secret_values_never_appear_in_messages(tmp_path: Path, extra: str) -> None:
    found = problems(tmp_path, BASE + extra, env=SECRETS)
    assert found  # each case has a problem
    for message in found:
        assert "s3cr3t" not in message
        for value in SECRETS.values():
            assert value not in message


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("${OPENAI_API_KEY}", "a shell-style reference, not expanded"),
        ("sk-proj-abc", "the key itself"),
    ],
)
def test_an_env_field_that_names_no_variable_says_so(
    tmp_path: Path, written: str, why: str
) -> None:
    extra = (
        '[[providers]]\nname = "o"\ntype = "openai"\nbase_url = "https://h/v1"\n'
        f'api_key_env = "{written}"\n'
    )
    assert problems(tmp_path, BASE + extra) == [
        "config.toml:14: provider 'o': api_key_env must name an environment variable (letters, "
        "digits and '_'), which holds the secret; the value is not shown, as it may be the "
        "secret itself, and `${NAME}` is not expanded"
    ], why


def test_a_set_variable_with_a_name_beyond_letters_digits_and_underscores_is_used(
    tmp_path: Path,
) -> None:
    """Kubernetes allows `.` and `-` in variable names: when the variable is set, it is read."""
    extra = '[admin]\nkey_env = "GW.ADMIN-KEY"\n'
    assert problems(tmp_path, BASE + extra, env={"GW.ADMIN-KEY": "x" * 20}) == []
