"""The gateway the hostile-client tests attack: tight deadlines, a connection cap, three keys."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.procs import Proc, start_gateway

KEY = "sk-hostile-key"
TIGHT_KEY = "sk-hostile-tight"
SWAP_KEY = "sk-hostile-swap"
MiB = 1024 * 1024


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hostile_config(upstream: str, log_path: Path) -> str:
    return f"""
[server]
max_body_bytes = {16 * MiB}
header_timeout_s = 1.0
body_timeout_s = 0.5
max_connections = 32

[logging]
path = "{log_path}"

[[providers]]
name = "oai"
type = "openai"
base_url = "{upstream}/v1"

[[providers]]
name = "ant"
type = "anthropic"
base_url = "{upstream}"

[[models]]
name = "gpt"
[[models.deployments]]
provider = "oai"
model = "mock-small"

[[models]]
name = "claude"
[[models.deployments]]
provider = "ant"
model = "mock-small"

[[keys]]
id = "open"
key_sha256 = "{sha256_hex(KEY)}"

[[keys]]
id = "tight"
key_sha256 = "{sha256_hex(TIGHT_KEY)}"
policy = "tight"

[[keys]]
id = "swap"
key_sha256 = "{sha256_hex(SWAP_KEY)}"
policy = "swappable"
"""


def start_hostile_gateway(root: Path, upstream: Proc, logging: str = "") -> Proc:
    (root / "policies").mkdir()
    (root / "policies" / "tight.toml").write_text("[limits]\ntpm = 100000\n")
    (root / "policies" / "swappable.toml").write_text("[limits]\nrpm = 1000\n")
    config = root / "config.toml"
    text = hostile_config(upstream.url, root / "requests.jsonl")
    config.write_text(text.replace("[logging]\n", f"[logging]\n{logging}"))
    return start_gateway(config)
