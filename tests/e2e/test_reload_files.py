"""Live reload against hostile file layouts: the bad state is refused with `file:line`, the
watcher keeps working, and a later good edit applies."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import load_config
from tests.conditions import wait_until
from tests.mock_config import MOCK_MODEL, key_table
from tests.procs import Proc, start_gateway

ADMIN_KEY = "admin-reload-files-key"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
ENV = {"RELOAD_FILES_ADMIN_KEY": ADMIN_KEY}
CONFIG = '[admin]\nkey_env = "RELOAD_FILES_ADMIN_KEY"\n\n' + MOCK_MODEL + key_table("k", "p")
POLICY = "[limits]\nrpm = 1000\n"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Proc]:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toml").write_text(POLICY)
    (tmp_path / "config.toml").write_text(CONFIG)
    proc = start_gateway(tmp_path / "config.toml", env=ENV)
    yield proc
    proc.stop()


def status(gateway: Proc) -> dict[str, Any]:
    return dict(httpx.get(gateway.url + "/admin/config/status", headers=ADMIN).json())


def problems(gateway: Proc) -> str:
    error = status(gateway)["last_error"]
    return " ".join(error["problems"]) if error else ""


def test_a_policies_directory_in_a_symlink_loop_is_refused_and_watching_goes_on(
    gateway: Proc, tmp_path: Path
) -> None:
    version = status(gateway)["version"]
    shutil.rmtree(tmp_path / "policies")
    (tmp_path / "policies").symlink_to(tmp_path / "loop")
    (tmp_path / "loop").symlink_to(tmp_path / "policies")
    wait_until(lambda: f"{tmp_path}/policies/p.toml:1: cannot read" in problems(gateway), 5.0)
    assert status(gateway)["version"] == version
    assert "watcher failed" not in "".join(gateway.output)

    (tmp_path / "policies").unlink()
    (tmp_path / "loop").unlink()
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toml").write_text("[limits]\nrpm = 999\n")
    fixed = load_config(tmp_path / "config.toml", env=ENV).version
    wait_until(lambda: status(gateway)["version"] == fixed, 5.0, message="the fix not applied")


def test_a_new_audit_path_applies_on_reload(gateway: Proc, tmp_path: Path) -> None:
    version = status(gateway)["version"]
    moved = tmp_path / "trail" / "audit-new.jsonl"
    (tmp_path / "config.toml").write_text(f'[logging]\naudit_path = "{moved}"\n\n' + CONFIG)
    wait_until(lambda: status(gateway)["version"] != version, 5.0, message="no reload")
    assert status(gateway)["restart_required"] == []
    httpx.get(gateway.url + "/admin/deployments", headers=ADMIN)
    lines = [json.loads(line) for line in moved.read_text().splitlines()]
    # The reload that moved the trail is its first line; later admin calls follow it.
    assert (lines[0]["action"], lines[0]["after"]) == ("reload", status(gateway)["version"])
    assert lines[-1]["target"] == "/admin/deployments"


def test_a_reverted_bad_edit_clears_the_last_error(gateway: Proc, tmp_path: Path) -> None:
    policy = tmp_path / "policies" / "p.toml"
    policy.write_text("[limits]\nrpm = 0\n")
    wait_until(lambda: "p.toml:2: limits.rpm" in problems(gateway), 5.0)
    policy.write_text(POLICY)
    wait_until(lambda: status(gateway)["last_result"] == "unchanged", 5.0)
    assert status(gateway)["last_error"] is None


def test_a_reload_naming_another_policies_directory_watches_it(
    gateway: Proc, tmp_path: Path
) -> None:
    # The watcher went on watching the directory of its start: edits in the new one were
    # never seen until a restart.
    (tmp_path / "policies2").mkdir()
    (tmp_path / "policies2" / "p.toml").write_text(POLICY)
    version = status(gateway)["version"]
    (tmp_path / "config.toml").write_text('policies_dir = "policies2"\n' + CONFIG)
    wait_until(lambda: status(gateway)["version"] != version, 5.0, message="no reload")

    (tmp_path / "policies2" / "p.toml").write_text("[limits]\nrpm = 7\n")
    edited = load_config(tmp_path / "config.toml", env=ENV).version
    wait_until(lambda: status(gateway)["version"] == edited, 5.0, message="edit not seen")
