"""The prompt stage in the pipeline: renders registered prompts, leaves OpenAI's own alone."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.errors import NotFound
from gateway.observability.recorder import MemorySink
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.prompt import use_prompt
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate, parse_body, resolve_model
from gateway.providers import EndpointKind
from tests.unit.pipeline.test_check_limits import CONFIG
from tests.unit.prompts.registry import SUPPORT


def services(tmp_path: Path) -> Services:
    (tmp_path / "config.toml").write_text(CONFIG.replace('policy = "limited"\n', ""))
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "support-bot.toml").write_text(SUPPORT)
    config = load_config(tmp_path / "config.toml", env={})
    app = create_app(config, recorder=MemorySink(), watch_config=False)
    result: Services = app.state.services
    return result


async def run(svc: Services, kind: EndpointKind, body: dict[str, object]) -> RequestContext:
    path = {"responses": "/v1/responses", "chat": "/v1/chat/completions"}[kind]
    ctx = RequestContext(
        Endpoint(path, kind, "openai"),
        svc.runtime,
        "req_1",
        time.time(),
        time.monotonic(),
        {"authorization": "Bearer sk-demo"},
    )
    ctx.raw_body = orjson.dumps(body)
    for stage in (authenticate, parse_body, resolve_model, use_prompt):
        await stage(ctx, svc)
    return ctx


async def test_a_registered_prompt_is_rendered_on_responses(tmp_path: Path) -> None:
    svc = services(tmp_path)
    prompt = {"id": "support-bot", "version": 1, "variables": {"product": "Acme"}}
    ctx = await run(svc, "responses", {"model": "m", "input": "hi", "prompt": prompt})
    assert ctx.body is not None and "prompt" not in ctx.body
    assert ctx.body["input"][0] == {"role": "system", "content": "You answer questions about Acme."}
    assert ctx.prompt is not None and ctx.prompt.version == 1


async def test_openai_stored_prompts_pass_through_on_responses_only(tmp_path: Path) -> None:
    svc = services(tmp_path)
    hosted = {"id": "pmpt_abc123", "version": "2"}
    ctx = await run(svc, "responses", {"model": "m", "input": "hi", "prompt": hosted})
    assert ctx.body is not None and ctx.body["prompt"] == hosted and ctx.prompt is None
    with pytest.raises(NotFound):
        await run(
            svc,
            "chat",
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "prompt": hosted},
        )
