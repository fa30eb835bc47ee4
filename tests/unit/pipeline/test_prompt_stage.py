"""The prompt stage in the pipeline: renders registered prompts, leaves OpenAI's own alone."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
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


async def test_a_request_refused_by_its_prompt_version_is_attributed_to_it(
    tmp_path: Path,
) -> None:
    # A promoted version that needs a variable the application does not send refuses every
    # request: the record and the per-prompt metrics must name that version, or the
    # "errors by prompt version" panel stays empty while the application fails.
    logging = "[logging]\ninclude_bodies = true\n\n"
    (tmp_path / "config.toml").write_text(logging + CONFIG.replace('policy = "limited"\n', ""))
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "support-bot.toml").write_text(SUPPORT)
    sink = MemorySink()
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=sink, watch_config=False
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "prompt": {"id": "support-bot", "version": 2, "variables": {"product": "Acme"}},
    }
    async with client:
        refused = await client.post(
            "/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-demo"}
        )
        metrics = (await client.get("/metrics")).text
    assert refused.json()["error"]["code"] == "prompt_variable_missing"
    (record,) = sink.records
    assert (record["status"], record["error_type"]) == (400, "prompt_variable_missing")
    assert (record["prompt_id"], record["prompt_version"], record["prompt_alias"]) == (
        "support-bot",
        2,
        None,
    )
    # No content of the version was used: no hash, so the version stays editable.
    assert record["prompt_hash"] is None
    assert record["prompt_variables"] == {"product": "Acme"}
    assert (
        'gateway_prompt_requests_total{prompt="support-bot",prompt_version="2",status="400"} 1.0'
        in metrics
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/completions", {"model": "m", "prompt": "Once upon a time"}),
        ("/v1/embeddings", {"model": "m", "input": "hi"}),
    ],
)
async def test_an_endpoint_without_prompts_refuses_the_header_before_any_version(
    tmp_path: Path, path: str, body: dict[str, object]
) -> None:
    # It answered "version 1 needs the variable 'product'" (variables the endpoint cannot
    # send) and counted the request against support-bot version 1 in its record and metrics.
    sink = MemorySink()
    app = create_app(services(tmp_path).runtime.config, recorder=sink, watch_config=False)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
    headers = {"authorization": "Bearer sk-demo", "x-gateway-prompt": "support-bot@1"}
    async with client:
        refused = await client.post(path, json=body, headers=headers)
        metrics = (await client.get("/metrics")).text
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_prompt"
    assert "cannot be used" in refused.json()["error"]["message"]
    (record,) = sink.records
    assert (record["status"], record["prompt_id"], record["prompt_version"]) == (400, None, None)
    assert 'gateway_prompt_requests_total{prompt="support-bot"' not in metrics
