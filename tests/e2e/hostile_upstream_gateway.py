"""The gateway `test_hostile_upstream.py` runs in front of `hostile_upstream.py`: its keys,
policies and models (each upstream model by name, on an OpenAI and an Anthropic provider), and
the calls its tests make."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.echo_forms import ECHOES
from tests.e2e.hostile_upstream import PROVIDER_KEY, HostileUpstream
from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_gateway

# The key of the `odd` provider: it holds the characters encoders change (`+`, `/`, `=`).
ODD_KEY = "enc+Key/9d8c7b6a5f4e3d2c+1b0a/x="
KEYS = {"plain": "sk-hostile-plain", "cached": "sk-hostile-cached", "pii": "sk-hostile-pii"}
POLICIES = {
    "plain": "",
    "cached": '[cache]\nmode = "exact"\nttl_s = 300\n',
    "pii": """
[[guardrails]]
name = "pii"
type = "pii"
applies_to = "input"
action = "redact"
on_error = "allow"
""",
}
OPENAI_MODELS = [
    "key-headers",
    "stream-forever",
    "key-401",
    "key-400",
    "key-500",
    "key-stream",
    "usage-huge",
    "usage-negative",
    "usage-string",
    "choices-null",
    "stream-usage-huge",
    "stream-usage-negative",
    "stream-no-end",
    "done-then-hold",
    "counter",
    "plain",
    "random-code",
    "tail-then-error",
    "answer-echoes-key",
]
ANTHROPIC_MODELS = [
    "key-401",
    "key-headers",
    "key-stream",
    "stream-no-end",
    "stream-forever",
    "done-then-hold",
    "random-code",
    "tail-then-error",
]


def _config(upstream: str, log_path: Path) -> str:
    config = f"""
[server]
max_body_bytes = 4194304

[logging]
path = "{log_path}"

[[providers]]
name = "hostile"
type = "openai"
base_url = "{upstream}/v1"
api_key_env = "HOSTILE_KEY"

[[providers]]
name = "hostile-ant"
type = "anthropic"
base_url = "{upstream}"
api_key_env = "HOSTILE_KEY"

[[providers]]
name = "hostile-resp"
type = "openai"
base_url = "{upstream}/v1"
api_key_env = "HOSTILE_KEY"
responses = true

[[providers]]
name = "odd"
type = "openai"
base_url = "{upstream}/v1"
api_key_env = "ODD_KEY"
"""
    models = [(m, "hostile", m) for m in OPENAI_MODELS]
    models += [(f"odd-echo-{form}", "odd", f"echo-{form}") for form in ECHOES]
    models += [(f"ant-{m}", "hostile-ant", m) for m in ANTHROPIC_MODELS]
    models.append(("resp-failed-then-hold", "hostile-resp", "failed-then-hold"))
    for name, provider, upstream_model in models:
        config += f"""
[[models]]
name = "{name}"
[[models.deployments]]
provider = "{provider}"
model = "{upstream_model}"
input_cost_per_1m = 1.0
output_cost_per_1m = 2.0
"""
        if upstream_model in ("stream-forever", "done-then-hold", "failed-then-hold"):
            config += "total_timeout_s = 1.0\n"
    for policy, secret in KEYS.items():
        digest = hashlib.sha256(secret.encode()).hexdigest()
        config += f'\n[[keys]]\nid = "{policy}"\npolicy = "{policy}"\nkey_sha256 = "{digest}"\n'
    return config


def start_gateway_before(root: Path, hostile: HostileUpstream) -> Proc:
    """The gateway in front of `hostile`, its files under `root`, its records in `log_path`."""
    (root / "policies").mkdir()
    for name, text in POLICIES.items():
        (root / "policies" / f"{name}.toml").write_text(text)
    log_path = root / "records.jsonl"
    (root / "config.toml").write_text(_config(hostile.url, log_path))
    proc = start_gateway(
        root / "config.toml",
        env={"HOSTILE_KEY": PROVIDER_KEY, "ODD_KEY": ODD_KEY},
        ready_timeout_s=60,
    )
    proc.log_path = log_path
    return proc


def chat(client: httpx.Client, model: str, key: str = "plain", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return client.post(
        "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEYS[key]}"}
    )


def messages(client: httpx.Client, model: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    return client.post("/v1/messages", json={**body, **extra}, headers={"x-api-key": KEYS["plain"]})


def record_of(gateway: Proc, response: httpx.Response) -> dict[str, Any]:
    assert gateway.log_path is not None
    return wait_for_record(gateway.log_path, response.headers["x-request-id"])


def leaks(text: str) -> bool:
    return PROVIDER_KEY in text or PROVIDER_KEY[:16] in text
