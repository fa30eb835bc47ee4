"""Config fragments many tests share: the in-process mock provider serving the model "m", and
the demo gateway key `sk-demo` (stored hashed, as every key is)."""

from __future__ import annotations

import hashlib

MOCK_MODEL = """\
[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "m"
[[models.deployments]]
provider = "mock"
model = "mock-small"
"""
DEMO_KEY = "sk-demo"
DEMO_KEY_SHA256 = hashlib.sha256(DEMO_KEY.encode()).hexdigest()


def key_table(key_id: str, policy: str | None = None, team: str | None = None) -> str:
    """A `[[keys]]` table for the demo key."""
    lines = ["", "[[keys]]", f'id = "{key_id}"']
    if team is not None:
        lines.append(f'team = "{team}"')
    if policy is not None:
        lines.append(f'policy = "{policy}"')
    lines.append(f'key_sha256 = "{DEMO_KEY_SHA256}"')
    return "\n".join(lines) + "\n"
