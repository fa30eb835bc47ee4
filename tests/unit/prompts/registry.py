"""A registry for the prompt tests, loaded from TOML like the gateway loads it."""

from __future__ import annotations

from pathlib import Path

from gateway.config.errors import Problem
from gateway.config.prompt_types import Prompt
from gateway.config.prompts import load_prompts

SUPPORT = """\
[[versions]]
version = 1
messages = [{ role = "system", content = "You answer questions about {{product}}." }]
params = { temperature = 0.2 }

[[versions]]
version = 2
messages = [
  { role = "system", content = "You are {{product}}'s support. Be brief." },
  { role = "user", content = "My plan is {{plan}}." },
]
params = { temperature = 0.5 }
allow_override = ["temperature"]

[aliases]
production = 1
canary = { version = 2, weight = 0.1 }
"""


def registry(tmp_path: Path, **files: str) -> dict[str, Prompt]:
    for name, text in (files or {"support-bot": SUPPORT}).items():
        (tmp_path / f"{name}.toml").write_text(text)
    problems: list[Problem] = []
    prompts, _ = load_prompts(tmp_path, problems, {})
    assert problems == []
    return prompts
