"""Live edits the way they reach a gateway in the field: Kubernetes ConfigMap updates carrying
the policies, `sed -i` and vim saves, a policy deleted while a key uses it, a broken prompts
file, a provider whose key variable the process does not have. Each applies, or is refused with
`file:line` (status, log line and metric) while the old config serves."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import load_config
from tests.conditions import wait_until
from tests.mock_config import DEMO_KEY, MOCK_MODEL, key_table
from tests.procs import Proc, start_gateway

ADMIN_KEY = "admin-reload-field-key"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
ENV = {"RELOAD_FIELD_ADMIN_KEY": ADMIN_KEY}
CONFIG = '[admin]\nkey_env = "RELOAD_FIELD_ADMIN_KEY"\n\n' + MOCK_MODEL + key_table("k", "p")
ERRORS = 'gateway_config_reloads_total{result="error"}'


def status(gateway: Proc) -> dict[str, Any]:
    return dict(httpx.get(gateway.url + "/admin/config/status", headers=ADMIN).json())


def problems(gateway: Proc) -> list[str]:
    error = status(gateway)["last_error"]
    return list(error["problems"]) if error else []


def errors_counted(gateway: Proc) -> float:
    for line in httpx.get(gateway.url + "/metrics").text.splitlines():
        if line.startswith(ERRORS):
            return float(line.split()[-1])
    return 0.0


def rpm_limit(gateway: Proc) -> str:
    """The key's rpm as the gateway applies it (the x-ratelimit header of an answer)."""
    answer = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {DEMO_KEY}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.headers["x-ratelimit-limit-requests"]


def applied(gateway: Proc, config: Path, env: dict[str, str] = ENV) -> None:
    version = load_config(config, env=env).version
    wait_until(lambda: status(gateway)["version"] == version, 5.0, message="edit not applied")


def refused(gateway: Proc, problem: str) -> None:
    """`problem` is reported (status and log line) for the last reload."""
    wait_until(
        lambda: any(problem in p for p in problems(gateway)), 5.0, message=f"not refused: {problem}"
    )
    wait_until(lambda: any(problem in line for line in gateway.output), 5.0)


def version_dir(root: Path, name: str, rpm: int, config: str = CONFIG) -> None:
    """One ConfigMap version as the kubelet writes it: a timestamped directory."""
    (root / name / "policies").mkdir(parents=True)
    (root / name / "config.toml").write_text(config)
    (root / name / "policies" / "p.toml").write_text(f"[limits]\nrpm = {rpm}\n")


def swap(root: Path, name: str, old: str) -> None:
    """The kubelet's update: point `..data` at the new directory in one rename, drop the old."""
    (root / "..data_tmp").symlink_to(name)
    os.replace(root / "..data_tmp", root / "..data")
    for path in sorted((root / old).rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (root / old).rmdir()


@pytest.fixture
def configmap(tmp_path: Path) -> Iterator[tuple[Proc, Path]]:
    """A ConfigMap with the config and, by item paths, the policies: `config.toml` and
    `policies` are symlinks through `..data` into the current version's directory."""
    version_dir(tmp_path, "..2026_12_06_01", 100)
    (tmp_path / "..data").symlink_to("..2026_12_06_01")
    (tmp_path / "config.toml").symlink_to("..data/config.toml")
    (tmp_path / "policies").symlink_to("..data/policies")
    proc = start_gateway(tmp_path / "config.toml", env=ENV)
    yield proc, tmp_path
    proc.stop()


def test_configmap_updates_of_a_policy_apply_again_and_again(
    configmap: tuple[Proc, Path],
) -> None:
    gateway, root = configmap
    assert rpm_limit(gateway) == "100"
    for step, (name, old) in enumerate(
        [("..2026_12_06_02", "..2026_12_06_01"), ("..2026_12_06_03", "..2026_12_06_02")]
    ):
        version_dir(root, name, 200 + step)
        swap(root, name, old)
        applied(gateway, root / "config.toml")
        assert rpm_limit(gateway) == str(200 + step)
    assert status(gateway)["watcher"] == "native"


def test_a_bad_configmap_update_is_refused_and_the_next_good_one_applies(
    configmap: tuple[Proc, Path],
) -> None:
    gateway, root = configmap
    errors = errors_counted(gateway)
    version_dir(root, "..2026_12_06_02", 0)
    swap(root, "..2026_12_06_02", "..2026_12_06_01")
    refused(gateway, f"{root}/policies/p.toml:2: limits.rpm: must be greater than 0, got 0")
    assert rpm_limit(gateway) == "100"
    assert errors_counted(gateway) == errors + 1
    version_dir(root, "..2026_12_06_03", 300)
    swap(root, "..2026_12_06_03", "..2026_12_06_02")
    applied(gateway, root / "config.toml")
    assert rpm_limit(gateway) == "300"


def test_a_policies_configmap_mounted_on_its_own_applies(tmp_path: Path) -> None:
    mount = tmp_path / "policies-mount"
    (mount / "..v1").mkdir(parents=True)
    (mount / "..v1" / "p.toml").write_text("[limits]\nrpm = 100\n")
    (mount / "..data").symlink_to("..v1")
    (mount / "p.toml").symlink_to("..data/p.toml")
    (tmp_path / "config.toml").write_text(f'policies_dir = "{mount}"\n' + CONFIG)
    gateway = start_gateway(tmp_path / "config.toml", env=ENV)
    try:
        assert rpm_limit(gateway) == "100"
        (mount / "..v2").mkdir()
        (mount / "..v2" / "p.toml").write_text("[limits]\nrpm = 250\n")
        swap(mount, "..v2", "..v1")
        applied(gateway, tmp_path / "config.toml")
        assert rpm_limit(gateway) == "250"
    finally:
        gateway.stop()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Proc]:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toml").write_text("[limits]\nrpm = 100\n")
    (tmp_path / "config.toml").write_text(CONFIG)
    proc = start_gateway(tmp_path / "config.toml", env=ENV)
    yield proc
    proc.stop()


def test_sed_in_place_and_vim_saves_apply(gateway: Proc, tmp_path: Path) -> None:
    policy = tmp_path / "policies" / "p.toml"
    subprocess.run(["sed", "-i", "s/rpm = 100/rpm = 120/", str(policy)], check=True)
    applied(gateway, tmp_path / "config.toml")
    assert rpm_limit(gateway) == "120"

    # vim with `backupcopy=no`: the file is renamed to its backup, then a new one is written.
    os.rename(policy, policy.with_name("p.toml~"))
    policy.write_text("[limits]\nrpm = 130\n")
    applied(gateway, tmp_path / "config.toml")
    assert rpm_limit(gateway) == "130"


def test_a_deleted_policy_is_refused_until_it_is_back(gateway: Proc, tmp_path: Path) -> None:
    policy = tmp_path / "policies" / "p.toml"
    errors = errors_counted(gateway)
    policy.unlink()
    line = CONFIG.splitlines().index('policy = "p"') + 1
    refused(
        gateway,
        f"{tmp_path}/config.toml:{line}: key 'k': policy 'p' not found "
        f"(looked for {tmp_path}/policies/p.toml)",
    )
    assert rpm_limit(gateway) == "100"
    assert errors_counted(gateway) == errors + 1
    policy.write_text("[limits]\nrpm = 100\n")
    wait_until(lambda: status(gateway)["last_result"] == "unchanged", 5.0)


def test_a_prompts_directory_made_after_start_is_watched(gateway: Proc, tmp_path: Path) -> None:
    version = status(gateway)["version"]
    (tmp_path / "prompts").mkdir()
    prompt = tmp_path / "prompts" / "bot.toml"
    prompt.write_text(
        '[[versions]]\nversion = 1\nmessages = [{ role = "system", content = "hi" }\n'
    )
    refused(gateway, f"{prompt}:3: Unclosed array")
    assert status(gateway)["version"] == version
    assert rpm_limit(gateway) == "100"
    prompt.write_text(
        '[[versions]]\nversion = 1\nmessages = [{ role = "system", content = "hi" }]\n'
    )
    applied(gateway, tmp_path / "config.toml")


def test_a_provider_key_variable_unset_in_the_process_is_refused(
    gateway: Proc, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    extra = (
        '\n[[providers]]\nname = "oai"\ntype = "openai"\n'
        'base_url = "https://api.openai.com/v1"\napi_key_env = "FIELD_UNSET_OPENAI_KEY"\n'
    )
    config.write_text(CONFIG + extra)
    line = (CONFIG + extra).splitlines().index('api_key_env = "FIELD_UNSET_OPENAI_KEY"') + 1
    refused(
        gateway,
        f"{config}:{line}: provider 'oai': environment variable FIELD_UNSET_OPENAI_KEY is not set",
    )
    assert rpm_limit(gateway) == "100"


def test_deleting_the_default_policy_applies_and_the_log_says_what_it_lifted(
    tmp_path: Path,
) -> None:
    """No default.toml is a legal, empty default policy, so the reload applies it; a deleted
    file must not lift every limit (and guardrail) of the keys on it without a word."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "default.toml").write_text("[limits]\nrpm = 100\n")
    config = tmp_path / "config.toml"
    config.write_text(
        '[admin]\nkey_env = "RELOAD_FIELD_ADMIN_KEY"\n\n' + MOCK_MODEL + key_table("k")
    )
    gateway = start_gateway(config, env=ENV)
    try:
        assert rpm_limit(gateway) == "100"
        (tmp_path / "policies" / "default.toml").unlink()
        applied(gateway, config)
        wait_until(
            lambda: any("policy 'default' is now empty" in line for line in gateway.output), 5.0
        )
        (tmp_path / "policies" / "default.toml").write_text("[limits]\nrpm = 100\n")
        applied(gateway, config)
        assert sum("policy 'default' is now empty" in line for line in gateway.output) == 1
    finally:
        gateway.stop()
