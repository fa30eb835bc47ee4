"""The limits stage: while the state backend checks the limits, the first upstream call is made
ready, except when an input guardrail may still rewrite the body; it is then sent as made."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.services import Services
from gateway.pipeline.stages import STAGES, authenticate, check_limits, parse_body, resolve_model

CONFIG = """
[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "m"
[[models.deployments]]
provider = "mock"
model = "mock-small"

[[keys]]
id = "plain"
key_sha256 = "f77894fdfa58e447c57e077eaa9708e8e009c84dc6aba2db80461275e9b85be7"
policy = "limited"

[[keys]]
id = "guarded"
key_sha256 = "{guarded}"
policy = "guarded"
"""
LIMITED = "[limits]\nrpm = 100\n"
GUARDED = (
    LIMITED
    + '[[guardrails]]\nname = "no-secrets"\ntype = "regex"\n'
    + ('applies_to = "input"\naction = "redact"\npatterns = ["sk-[a-z]+"]\n')
)


def services(tmp_path: Path) -> Services:
    guarded = hashlib.sha256(b"sk-guarded").hexdigest()
    (tmp_path / "config.toml").write_text(CONFIG.replace("{guarded}", guarded))
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "limited.toml").write_text(LIMITED)
    (tmp_path / "policies" / "guarded.toml").write_text(GUARDED)
    config = load_config(tmp_path / "config.toml", env={})
    app = create_app(config, recorder=MemorySink(), watch_config=False)
    result: Services = app.state.services
    return result


def context(services: Services, secret: str, text: str) -> RequestContext:
    ctx = RequestContext(
        Endpoint("/v1/chat/completions", "chat", "openai"),
        services.runtime,
        "req_1",
        time.time(),
        time.monotonic(),
        {"authorization": f"Bearer {secret}"},
    )
    ctx.raw_body = (
        b'{"model": "m", "messages": [{"role": "user", "content": "' + text.encode() + b'"}]}'
    )
    return ctx


async def test_the_first_call_is_made_ready_during_the_limits_check(tmp_path: Path) -> None:
    svc = services(tmp_path)
    ctx = context(svc, "sk-demo", "hello")
    for stage in (authenticate, parse_body, resolve_model, check_limits):
        await stage(ctx, svc)
    assert ctx.limits_held is not None and ctx.upstream_draft is not None
    assert ctx.upstream_draft.deployment.name == "mock/mock-small"
    await svc.aclose()


async def test_no_draft_when_an_input_guardrail_may_rewrite_the_body(tmp_path: Path) -> None:
    svc = services(tmp_path)
    ctx = context(svc, "sk-guarded", "my key is sk-abc")
    for stage in STAGES:
        await stage(ctx, svc)
    assert ctx.limits_held is not None and ctx.upstream_draft is None
    # The upstream got the rewritten body: the mock echoes nothing of the secret back.
    assert ctx.body is not None and "sk-abc" not in ctx.body["messages"][0]["content"]
    await svc.aclose()
