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
    ],
)
def test_secret_values_never_appear_in_messages(tmp_path: Path, extra: str) -> None:
    found = problems(tmp_path, BASE + extra, env=SECRETS)
    assert found  # each case has a problem
    for message in found:
        assert "s3cr3t" not in message
        for value in SECRETS.values():
            assert value not in message
