"""Secrets mounted as files, as Docker secrets and Kubernetes secret volumes give them: the
provider key and the admin key read from `<NAME>_FILE`, and a rotation of the mounted secret
(the kubelet's `..data` swap) applied by the running gateway, with no restart and no config
edit: the next requests carry the new key upstream and answers are scrubbed of it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conditions import wait_until
from tests.mock_config import DEMO_KEY, key_table
from tests.procs import Proc, start_gateway

ENV_NAME = "E2E_SECRET_FILES_OPENAI_KEY"
ADMIN_ENV = "E2E_SECRET_FILES_ADMIN_KEY"
FIRST, SECOND = "sk-mounted-first-0123456789abcdef", "sk-mounted-second-0123456789abcdef"
ADMIN_FIRST, ADMIN_SECOND = "admin-mounted-first-0123456789", "admin-mounted-second-0123456789"


def config(upstream: str) -> str:
    return (
        f'[admin]\nkey_env = "{ADMIN_ENV}"\n\n'
        f'[[providers]]\nname = "oai"\ntype = "openai"\nbase_url = "{upstream}/v1"\n'
        f'api_key_env = "{ENV_NAME}"\n\n'
        '[[models]]\nname = "m"\n[[models.deployments]]\nprovider = "oai"\nmodel = "echo"\n'
        + key_table("k")
    )


def version(volume: Path, name: str, provider_key: str, admin_key: str) -> None:
    """One version of the secret volume, as the kubelet writes it: a timestamped directory."""
    (volume / name).mkdir()
    (volume / name / "openai").write_text(provider_key + "\n")
    (volume / name / "admin").write_text(admin_key + "\n")


@pytest.fixture
def mounted(tmp_path: Path, mock_upstream: Proc) -> Iterator[tuple[Proc, Path]]:
    volume = tmp_path / "secrets"
    volume.mkdir()
    version(volume, "..2026_12_07_01", FIRST, ADMIN_FIRST)
    (volume / "..data").symlink_to("..2026_12_07_01")
    for item in ("openai", "admin"):
        (volume / item).symlink_to(f"..data/{item}")
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir()
    path.write_text(config(mock_upstream.url))
    env = {f"{ENV_NAME}_FILE": str(volume / "openai"), f"{ADMIN_ENV}_FILE": str(volume / "admin")}
    proc = start_gateway(path, env=env)
    yield proc, volume
    proc.stop()


def ask(gateway: Proc, text: str) -> str:
    answer = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": text}]},
        headers={"authorization": f"Bearer {DEMO_KEY}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["choices"][0]["message"]["content"])


def key_sent(mock: Proc) -> str:
    return str(httpx.get(mock.url + "/_mock/stats").json()["auth_headers_seen"][-1])


def admin_status(gateway: Proc, key: str) -> int:
    headers = {"authorization": f"Bearer {key}"}
    return httpx.get(gateway.url + "/admin/config/status", headers=headers).status_code


def test_a_rotated_secret_volume_applies_without_a_restart(
    mounted: tuple[Proc, Path], mock_upstream: Proc
) -> None:
    gateway, volume = mounted
    assert FIRST not in ask(gateway, f"say {FIRST}")  # the echo is scrubbed of the key
    assert key_sent(mock_upstream) == f"Bearer {FIRST}"
    assert admin_status(gateway, ADMIN_FIRST) == 200
    # The kubelet's update: the new version's directory, `..data` swapped to it in one rename.
    version(volume, "..2026_12_07_02", SECOND, ADMIN_SECOND)
    (volume / "..data_tmp").symlink_to("..2026_12_07_02")
    os.replace(volume / "..data_tmp", volume / "..data")

    def rotated() -> bool:
        ask(gateway, "hello")
        return key_sent(mock_upstream) == f"Bearer {SECOND}"

    wait_until(rotated, 10.0, message="the rotated provider key is not sent")
    assert SECOND not in ask(gateway, f"say {SECOND}")
    assert admin_status(gateway, ADMIN_SECOND) == 200  # read at each admin call
    assert admin_status(gateway, ADMIN_FIRST) == 401
    assert any("config reloaded (file change)" in line for line in gateway.output)
