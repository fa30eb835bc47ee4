"""Shared by the test_problems_*.py files: a minimal valid config and its problems as strings.

Each file checks one part of `gateway.config.load`'s reports: `file:line: message`, exact lines.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config import check_config
from tests.mock_config import MOCK_MODEL

# Lines 1-9; tests append to it, so appended text starts at line 10.
BASE = MOCK_MODEL

SHA = "f77894fdfa58e447c57e077eaa9708e8e009c84dc6aba2db80461275e9b85be7"


def problems(
    root: Path, text: str, env: dict[str, str] | None = None, policies: dict[str, str] | None = None
) -> list[str]:
    """The problems of config `text` as strings, with file names relative to `root`."""
    for name, body in (policies or {}).items():
        (root / "policies").mkdir(exist_ok=True)
        (root / "policies" / f"{name}.toml").write_text(body)
    path = root / "config.toml"
    path.write_text(text)
    return [str(p).replace(f"{root}/", "") for p in check_config(path, env=env or {})]
