"""The audit trail from a running gateway: an admin reload, a refused edit and a prompt
promotion each leave one line, and `GET /admin/audit?since=` reads them back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conditions import wait_until
from tests.mock_config import MOCK_MODEL
from tests.procs import REPO, Proc, start_gateway

ADMIN_KEY = "admin-audit-test-key"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
CONFIG = '[admin]\nkey_env = "AUDIT_ADMIN_KEY"\n\n' + MOCK_MODEL
PROMPT = """[[versions]]
version = 1
messages = [{ role = "system", content = "one" }]
[[versions]]
version = 2
messages = [{ role = "system", content = "two" }]
[aliases]
production = 1
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gateway's directory: its config, prompts and logs."""
    return tmp_path_factory.mktemp("audit")


@pytest.fixture(scope="module")
def gateway(root: Path) -> Iterator[Proc]:
    (root / "config.toml").write_text(CONFIG)
    (root / "prompts").mkdir()
    (root / "prompts" / "bot.toml").write_text(PROMPT)
    proc = start_gateway(root / "config.toml", env={"AUDIT_ADMIN_KEY": ADMIN_KEY})
    yield proc
    proc.stop()


def trail(root: Path) -> list[dict[str, Any]]:
    path = root / "logs" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_an_admin_reload_leaves_one_line_naming_the_admin(gateway: Proc, root: Path) -> None:
    before = len(trail(root))
    assert httpx.post(gateway.url + "/admin/reload", headers=ADMIN).status_code == 200
    (entry,) = trail(root)[before:]
    assert entry["action"] == "reload" and entry["trigger"] == "admin API"
    assert entry["who"].startswith("admin:") and ADMIN_KEY not in json.dumps(entry)
    assert entry["result"] == "unchanged" and entry["before"] == entry["after"]


def test_a_refused_edit_leaves_one_line_with_its_problems(gateway: Proc, root: Path) -> None:
    config = root / "config.toml"
    before = len(trail(root))
    config.write_text(CONFIG + "\n[[models]]\nname = 3\n")
    entries = wait_until(lambda: trail(root)[before:] or None, 5, message="no audit line")
    config.write_text(CONFIG)
    (entry,) = entries
    assert (entry["who"], entry["result"]) == ("file-watch", "error")
    assert any("config.toml:" in problem for problem in entry["problems"])
    wait_until(lambda: trail(root)[-1]["result"] in ("ok", "unchanged"), 5)


def test_a_promotion_leaves_one_line_and_the_api_reads_the_trail(gateway: Proc, root: Path) -> None:
    since = time.time()
    before = len(trail(root))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "prompts",
            "--config",
            str(root / "config.toml"),
            "promote",
            "bot",
            "2",
            "--force",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    promotions = [e for e in trail(root)[before:] if e["action"] == "prompt_promote"]
    assert len(promotions) == 1 and promotions[0]["forced"] is True
    served = httpx.get(gateway.url + "/admin/audit", params={"since": str(since)}, headers=ADMIN)
    actions = [e["action"] for e in served.json()["entries"]]
    assert "prompt_promote" in actions and all(e["ts"] >= since for e in served.json()["entries"])
    # Reading the trail is itself an admin call, audited after it answered. (Not necessarily
    # the last line: the promotion's prompt edit may be reloaded and audited meanwhile.)
    wait_until(
        lambda: any(e.get("target") == "/admin/audit" for e in trail(root)[before:]),
        2,
        message="the read of /admin/audit was not audited",
    )
