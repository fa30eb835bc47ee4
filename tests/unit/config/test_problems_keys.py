"""gateway.config.load: problems in [[keys]], including the policy a key names, with exact
lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import check_config
from tests.unit.config.problems import BASE, SHA, problems


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


def test_key_env_value_that_is_not_utf8(tmp_path: Path) -> None:
    """The environment holds bytes that are not UTF-8 as lone surrogates: hashing one raised
    UnicodeEncodeError."""
    text = BASE + '[[keys]]\nid = "k"\nkey_env = "GWK"\n'
    assert problems(tmp_path, text, env={"GWK": "\udcff"}) == [
        "config.toml:12: key 'k': environment variable GWK is not valid UTF-8"
    ]


@pytest.mark.parametrize("value", ["sk-k\n", " sk-k", "sk-k\t"])
def test_key_env_value_with_outer_whitespace(tmp_path: Path, value: str) -> None:
    """HTTP drops a header value's outer whitespace, so such a key never matched: every request
    with it was 401 (a Kubernetes secret file's trailing newline does it)."""
    text = BASE + '[[keys]]\nid = "k"\nkey_env = "GWK"\n'
    assert problems(tmp_path, text, env={"GWK": value}) == [
        "config.toml:12: key 'k': environment variable GWK has leading or trailing whitespace "
        "(a newline?), which no header can carry"
    ]


@pytest.mark.parametrize("value", ["clé-secrète-1", "sk-a\tb", "sk-a\x00b"])
def test_key_env_value_no_header_can_carry(tmp_path: Path, value: str) -> None:
    """Read as Latin-1 from the header (when a client sends it at all: httpx refuses), such a
    key never matched its UTF-8 hash: every request with it was 401."""
    text = BASE + '[[keys]]\nid = "k"\nkey_env = "GWK"\n'
    assert problems(tmp_path, text, env={"GWK": value}) == [
        "config.toml:12: key 'k': environment variable GWK holds characters other than printable "
        "ASCII, which no header can carry"
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


def test_a_plaintext_key_is_refused_with_how_to_store_it_and_never_shown(tmp_path: Path) -> None:
    text = BASE + (
        "[[keys]]\n"  # 10
        'id = "pasted"\n'  # 11
        'key = "sk-live-pasted-secret"\n'  # 12
        "[[keys]]\n"  # 13
        'id = "both"\n'  # 14
        'key = "sk-live-other-secret"\n'  # 15
        f'key_sha256 = "{SHA}"\n'  # 16
    )
    found = problems(tmp_path, text)
    how = (
        "a plaintext `key` is never stored: put its sha256 in key_sha256 "
        "(`gateway keys hash SECRET` prints it), or name an environment variable holding it "
        "with key_env"
    )
    assert found == [f"config.toml:12: key 'pasted': {how}", f"config.toml:15: key 'both': {how}"]
    assert "sk-live" not in " ".join(found)


def test_a_previous_secret_is_checked_like_a_secret_and_belongs_to_one_key(
    tmp_path: Path,
) -> None:
    """`previous_key_sha256` (a secret being rotated out) is one of the key's secrets: no
    other key may have it, and a raw secret pasted there is refused without being shown."""
    text = BASE + (
        f'[[keys]]\nid = "a"\nkey_sha256 = "{SHA}"\nprevious_key_sha256 = "{"e" * 64}"\n'  # 10-13
        f'[[keys]]\nid = "b"\nkey_sha256 = "{"E" * 64}"\n'  # 14-16
        f'[[keys]]\nid = "c"\nkey_sha256 = "{"f" * 64}"\nprevious_key_sha256 = "{SHA}"\n'
        f'[[keys]]\nid = "d"\nkey_sha256 = "{"1" * 64}"\nprevious_key_sha256 = "{"1" * 64}"\n'
        f'[[keys]]\nid = "e"\nkey_sha256 = "{"2" * 64}"\nprevious_key_sha256 = "sk-live-9f8e"\n'
    )
    found = problems(tmp_path, text)
    assert found == [
        "config.toml:16: key 'b': same secret as key 'a'",
        "config.toml:20: key 'c': previous_key_sha256 is the secret of key 'a'",
        "config.toml:24: key 'd': previous_key_sha256 is the key's own secret",
        "config.toml:28: key 'e': previous_key_sha256 must be 64 hex characters (the sha256 "
        "of the secret being rotated out: `gateway keys hash SECRET`)",
    ]
    assert not any("sk-live-9f8e" in problem for problem in found)
