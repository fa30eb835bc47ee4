"""The guardrails gateway of test_guardrails_*.py: one policy per guardrail setup, a key for
each, and a scripted upstream that splits an email across three stream chunks. The mock
provider's `echo` model answers with the last user message.

The gateway itself is the `guarded` fixture in conftest.py, started once for both files.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.procs import Proc

KEYS = {
    "restore": "sk-guard-restore",
    "redact_out": "sk-guard-redact-out",
    "restore_cached": "sk-guard-restore-cached",
    "block_in": "sk-guard-block-in",
    "block_out": "sk-guard-block-out",
    "safety": "sk-guard-safety",
    "moderated": "sk-guard-moderated",
}
POLICIES = {
    "restore": """
[[guardrails]]
name = "pii-restore"
type = "pii"
applies_to = "both"
action = "restore"
""",
    "restore_cached": """
[cache]
mode = "exact"

[[guardrails]]
name = "pii-restore"
type = "pii"
applies_to = "both"
action = "restore"
""",
    "redact_out": """
[[guardrails]]
name = "pii-redact"
type = "pii"
applies_to = "output"
action = "redact"
""",
    "block_in": """
[[guardrails]]
name = "pii-block"
type = "pii"
applies_to = "input"
action = "block"
entities = ["CREDIT_CARD", "IBAN_CODE"]
""",
    "block_out": """
[[guardrails]]
name = "pii-block-out"
type = "pii"
applies_to = "output"
action = "block"
""",
    "safety": """
[[guardrails]]
name = "injection"
type = "prompt_injection"
applies_to = "input"
action = "block"

[[guardrails]]
name = "toxicity"
type = "toxicity"
applies_to = "input"
action = "block"
threshold = 0.85
""",
    # The moderation model is `echo`: it answers with the text it was asked to judge, so the
    # text itself says FLAGGED or SAFE (or neither, which is an error: on_error = allow).
    "moderated": """
[[guardrails]]
name = "mod"
type = "moderation"
model = "echo"
applies_to = "input"
on_error = "allow"
""",
}
SECRETS = [
    "jane.roe@example.org",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "203.0.113.42",
]
MESSAGE = (
    f"Please mail {SECRETS[0]} or call {SECRETS[1]}. Pay with card {SECRETS[2]}, "
    f"refund to {SECRETS[3]}, and allow {SECRETS[4]} through the firewall."
)
SPLIT_EMAIL = ["Contact: jo", "hn.doe@exam", "ple.com today"]


class _Scripted(BaseHTTPRequestHandler):
    """An OpenAI-compatible upstream whose stream splits an email across three chunks."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        base = {
            "id": "chatcmpl-split",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "split",
        }
        pieces = [{"role": "assistant", "content": ""}] + [{"content": p} for p in SPLIT_EMAIL]
        for delta in pieces:
            event = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            self.wfile.flush()
            time.sleep(0.02)
        end = {
            **base,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9},
        }
        self.wfile.write(b"data: " + json.dumps(end).encode() + b"\n\ndata: [DONE]\n\n")
        self.wfile.flush()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def running_scripted_upstream() -> Iterator[str]:
    """The scripted upstream on a loopback port, serving from a thread; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_guarded_config(root: Path, base_config: str, slow_upstream: str, scripted: str) -> Path:
    """Write the policies under `root` and a config: `base_config` (the suite's providers and
    models), the models these tests add, and one key per policy; the config's path."""
    (root / "policies").mkdir()
    for name, text in POLICIES.items():
        (root / "policies" / f"{name}.toml").write_text(text)
    config = (
        base_config
        + f"""
[[providers]]
name = "script"
type = "openai"
base_url = "{scripted}/v1"

[[models]]
name = "split-email"
[[models.deployments]]
provider = "script"
model = "split"

[[providers]]
name = "slow-ant"
type = "anthropic"
base_url = "{slow_upstream}"

[[models]]
name = "slow-echo"
[[models.deployments]]
provider = "slow"
model = "echo"

[[models]]
name = "slow-claude-echo"
[[models.deployments]]
provider = "slow-ant"
model = "echo"
"""
    )
    for policy, secret in KEYS.items():
        digest = hashlib.sha256(secret.encode()).hexdigest()
        config += f'\n[[keys]]\nid = "{policy}"\npolicy = "{policy}"\nkey_sha256 = "{digest}"\n'
    (root / "config.toml").write_text(config)
    return root / "config.toml"


def auth(policy: str) -> dict[str, str]:
    """The headers of a request made with `policy`'s key."""
    return {"authorization": f"Bearer {KEYS[policy]}"}


def upstream_saw(mock: Proc) -> str:
    """The body of the last request the mock provider received, as JSON text."""
    return json.dumps(httpx.get(mock.url + "/_mock/stats").json()["last_request"]["body"])


def upstream_requests(mock: Proc) -> int:
    """How many requests the mock provider has received."""
    return int(httpx.get(mock.url + "/_mock/stats").json()["requests"])


def chat_request(message: str, model: str = "echo", **extra: Any) -> dict[str, Any]:
    """A chat completion body with `message` as the one user message."""
    return {"model": model, "messages": [{"role": "user", "content": message}], **extra}
