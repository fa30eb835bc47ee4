"""The processes the tests start (gateways, mock providers) run this checkout's `gateway`, not
whichever one the venv or the environment would find first (a worktree's tests ran the main
checkout's gateway: their e2e tests tested other code than the one changed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.procs import REPO, child_env


def test_a_child_imports_this_checkouts_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoy = tmp_path / "decoy"
    (decoy / "gateway").mkdir(parents=True)
    (decoy / "gateway" / "__init__.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", str(decoy))  # what the environment would find first
    where = tmp_path / "cwd"
    where.mkdir()
    found = subprocess.run(
        [sys.executable, "-c", "import gateway; print(gateway.__file__)"],
        env=child_env(None),
        cwd=where,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).resolve() == REPO / "gateway" / "__init__.py"
