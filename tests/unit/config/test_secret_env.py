"""Secrets given as files (`<NAME>_FILE`, Docker and Kubernetes secrets): read for every
`*_env` setting, their trailing line ends dropped; given both ways, or as a file that cannot be
read, refused at the setting's line without showing a secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from gateway.config.secret_env import (
    MAX_SECRET_BYTES,
    SecretEnvironment,
    secret_names,
    secrets_digest,
)
from gateway.runtime import build_runtime
from tests.mock_config import MOCK_MODEL, key_table

PROVIDER = (
    '\n[[providers]]\nname = "openai"\ntype = "openai"\nbase_url = "https://api.openai.com/v1"\n'
    'api_key_env = "OPENAI_KEY"\n'
)


def secret_file(tmp_path: Path, text: str | bytes, name: str = "openai") -> Path:
    path = tmp_path / "run-secrets" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    ("content", "read"),
    [
        ("sk-file-key\n", "sk-file-key"),
        ("sk-file-key\r\n", "sk-file-key"),
        ("sk-file-key\n\n", "sk-file-key"),
        ("sk-file-key", "sk-file-key"),
        (" spaced key \n", " spaced key "),  # only line ends: other whitespace is the secret's
    ],
)
def test_a_secret_is_read_from_the_file_its_file_variable_names(
    tmp_path: Path, content: str, read: str
) -> None:
    env = SecretEnvironment({"OPENAI_KEY_FILE": str(secret_file(tmp_path, content))})
    assert env["OPENAI_KEY"] == read
    assert "OPENAI_KEY" in env and env.problem("OPENAI_KEY") is None
    assert "OTHER" not in env and env.get("OTHER") is None


def test_the_file_is_read_at_each_lookup(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "first\n")
    env = SecretEnvironment({"OPENAI_KEY_FILE": str(path)})
    assert env["OPENAI_KEY"] == "first"
    path.write_text("second\n")
    assert env["OPENAI_KEY"] == "second"


def test_a_variable_alone_is_read_as_it_is() -> None:
    env = SecretEnvironment({"OPENAI_KEY": "sk-variable\n"})
    assert env["OPENAI_KEY"] == "sk-variable\n"  # a variable is never trimmed (key_env says)
    assert env.problem("OPENAI_KEY") is None and env.files(["OPENAI_KEY"]) == []


def _unreadable(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """(path, what the problem says) of files a secret cannot be read from."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = secret_file(tmp_path, "k" * (MAX_SECRET_BYTES + 1), "big")
    latin = secret_file(tmp_path, b"caf\xe9", "latin")
    return {
        "missing": (str(tmp_path / "nowhere"), "No such file or directory"),
        "directory": (str(tmp_path), "not a regular file (a directory)"),
        "fifo": (str(fifo), "not a regular file (a FIFO)"),
        "big": (str(big), f"larger than {MAX_SECRET_BYTES:,} bytes"),
        "latin": (str(latin), "not UTF-8 text"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "fifo", "big", "latin"])
def test_a_file_that_cannot_be_read_is_a_problem_naming_the_variable(
    tmp_path: Path, case: str
) -> None:
    path, said = _unreadable(tmp_path)[case]
    env = SecretEnvironment({"OPENAI_KEY_FILE": path})
    assert "OPENAI_KEY" not in env
    problem = env.problem("OPENAI_KEY")
    assert problem is not None and problem.startswith("OPENAI_KEY_FILE names a file")
    assert said in problem
    config = tmp_path / "config.toml"
    config.write_text(MOCK_MODEL + PROVIDER)
    with pytest.raises(ConfigError) as refused:
        load_config(config, env=env)
    line = (MOCK_MODEL + PROVIDER).splitlines().index('api_key_env = "OPENAI_KEY"') + 1
    assert f"config.toml:{line}: provider 'openai': OPENAI_KEY_FILE names a file" in str(
        refused.value
    )
    assert "kkkk" not in str(refused.value)


def test_a_secret_given_both_ways_is_refused_without_showing_either(tmp_path: Path) -> None:
    env = SecretEnvironment(
        {"OPENAI_KEY": "sk-variable-secret", "OPENAI_KEY_FILE": str(secret_file(tmp_path, "f"))}
    )
    config = tmp_path / "config.toml"
    config.write_text(MOCK_MODEL + PROVIDER)
    with pytest.raises(ConfigError, match="OPENAI_KEY and OPENAI_KEY_FILE are both set") as bad:
        load_config(config, env=env)
    assert "sk-variable-secret" not in str(bad.value)


def test_every_secret_setting_reads_a_file(tmp_path: Path) -> None:
    """A provider's key, secret header and proxy password, a gateway key (`key_env`), the admin
    key and the Redis password."""
    files = {
        name: secret_file(tmp_path, f"{name.lower()}-from-file-0123456789\n", name)
        for name in ("OPENAI_KEY", "APIM_KEY", "PROXY_PW", "CLIENT_KEY", "ADMIN_KEY", "REDIS_PW")
    }
    env = SecretEnvironment({f"{name}_FILE": str(path) for name, path in files.items()})
    config = tmp_path / "config.toml"
    config.write_text(
        '[admin]\nkey_env = "ADMIN_KEY"\n\n[state]\nbackend = "redis"\n'
        'redis_url = "redis://gw@10.0.0.5:6379/0"\nredis_password_env = "REDIS_PW"\n'
        + MOCK_MODEL
        + PROVIDER
        + 'headers_env = { "Ocp-Apim-Subscription-Key" = "APIM_KEY" }\n'
        + 'proxy = "http://gw@proxy:3128"\nproxy_password_env = "PROXY_PW"\n'
        + '\n[[keys]]\nid = "client"\nkey_env = "CLIENT_KEY"\n'
    )
    loaded = load_config(config, env=env)
    names = ["ADMIN_KEY", "APIM_KEY", "CLIENT_KEY", "OPENAI_KEY", "PROXY_PW", "REDIS_PW"]
    assert secret_names(loaded) == names
    runtime = build_runtime(loaded, env)
    assert runtime.provider_keys["openai"].reveal() == "openai_key-from-file-0123456789"
    sent = runtime.provider_headers["openai"]
    assert sent == {"ocp-apim-subscription-key": "apim_key-from-file-0123456789"}
    found = runtime.find_secret("client_key-from-file-0123456789")
    assert found is not None and found[0].id == "client"
    for secret in ("admin_key", "proxy_pw", "apim_key"):
        assert secret not in runtime.secrets.scrub(f"x {secret}-from-file-0123456789")
    assert sorted(env.files(secret_names(loaded))) == sorted(files.values())


def test_the_digest_of_the_secrets_changes_when_a_file_does(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "one\n")
    env = SecretEnvironment({"OPENAI_KEY_FILE": str(path)})
    config = tmp_path / "config.toml"
    config.write_text(MOCK_MODEL + PROVIDER + key_table("k"))
    loaded = load_config(config, env=env)
    before = secrets_digest(loaded, env)
    assert secrets_digest(loaded, env) == before
    path.write_text("two\n")
    assert secrets_digest(loaded, env) != before
