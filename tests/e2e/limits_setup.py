"""The gateways of the limits and cache tests: one key (team `qa`) whose policy is the test's.

Each setup writes two configs (`a.toml`, `b.toml`, logging to `a.jsonl`, `b.jsonl`) for two
replicas, sharing Redis when given its URL.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from gateway import tokens
from tests.procs import Proc

KEY = "sk-limits-test"
AUTH = {"authorization": f"Bearer {KEY}"}
MESSAGES = [{"role": "user", "content": "hi"}]
# The echo model answers "hi": one completion token. With max_tokens = 1 the reservation
# (prompt estimate + max_tokens) equals the real usage, so token counts are known exactly.
TOKENS_PER_REQUEST = tokens.count_messages(MESSAGES) + 1
# What one such request costs on `echo` or `slow` ($1000 / 1M input, $2000 / 1M output).
COST_PER_REQUEST = (tokens.count_messages(MESSAGES) * 1000 + 1 * 2000) / 1e6


def config_text(
    upstream: Proc, slow: Proc, redis_url: str | None, log: Path, on_error: str = "fail_open"
) -> str:
    """A config with models `echo`, `slow`, `failing` and `hanging` and the limited key; state in
    Redis at `redis_url` (on errors: `on_error`), or in memory when it is None."""
    state = (
        f'[state]\nbackend = "redis"\nredis_url = "{redis_url}"\non_redis_error = "{on_error}"\n'
        if redis_url
        else ""
    )
    return f"""{state}
[logging]
path = "{log}"
include_bodies = true

[[providers]]
name = "mock"
type = "openai"
base_url = "{upstream.url}/v1"

[[providers]]
name = "slow"
type = "openai"
base_url = "{slow.url}/v1"

[[models]]
name = "echo"
[[models.deployments]]
provider = "mock"
model = "echo"
input_cost_per_1m = 1000.0
output_cost_per_1m = 2000.0

[[models]]
name = "slow"
[[models.deployments]]
provider = "slow"
model = "mock-small"
input_cost_per_1m = 1000.0
output_cost_per_1m = 2000.0

[[models]]
name = "failing"
[[models.deployments]]
provider = "mock"
model = "fail-500"

[[models]]
name = "hanging"
[[models.deployments]]
provider = "mock"
model = "fail-timeout"
first_token_timeout_s = 0.2

[[keys]]
id = "limited"
team = "qa"
policy = "limited"
key_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"
"""


def write_setup(
    root: Path,
    policy: str,
    upstream: Proc,
    slow: Proc,
    redis_url: str | None,
    on_error: str = "fail_open",
) -> list[Path]:
    """Write `policy` as the key's policy and the two replicas' configs; their paths."""
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "policies" / "limited.toml").write_text(policy)
    configs = []
    for name in ("a", "b"):
        path = root / f"{name}.toml"
        path.write_text(config_text(upstream, slow, redis_url, root / f"{name}.jsonl", on_error))
        configs.append(path)
    return configs
