"""Embeddings and legacy completions exist only on OpenAI-format upstreams: the router sends
them to the deployments that serve them, passes over a fallback with none, and answers a model
with none 400 on `model` (no upstream called)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.errors import GatewayError
from gateway.observability.metrics import Metrics
from gateway.providers import EndpointKind
from gateway.routing.deployment_stats import DeploymentStats
from gateway.routing.exchange import Exchange, RouteRequest
from gateway.routing.router import Router
from gateway.runtime import Runtime, build_runtime
from gateway.state import MemoryState
from gateway.upstream import FakeReply, FakeUpstream, UpstreamRequest

CONFIG = """
[routing]
max_attempts = 1

[[providers]]
name = "oai"
type = "openai"
base_url = "http://openai.invalid/v1"

[[providers]]
name = "ant"
type = "anthropic"
base_url = "http://anthropic.invalid"

# Chat redundancy across two providers: its Anthropic half serves no embeddings.
[[models]]
name = "mixed"
strategy = "round_robin"
[[models.deployments]]
provider = "ant"
model = "claude-haiku"
[[models.deployments]]
provider = "oai"
model = "ok-embed"

[[models]]
name = "claude"
[[models.deployments]]
provider = "ant"
model = "claude-haiku"

[[models]]
name = "flaky"
fallbacks = ["claude", "mixed"]
[[models.deployments]]
provider = "oai"
model = "e500-embed"
"""
BODIES: dict[str, dict[str, Any]] = {
    "embeddings": {"input": "hello"},
    "completions": {"prompt": "hello"},
}


def answer(request: UpstreamRequest) -> FakeReply:
    model = str(orjson.loads(request.body)["model"])
    if model.startswith("e500"):
        return FakeReply(500, {}, b'{"error": {"message": "down"}}')
    assert model.startswith("ok"), f"{model} was called"
    body = (
        {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [1.0]}]}
        if request.url.endswith("/embeddings")
        else {"object": "text_completion", "choices": [{"index": 0, "text": "hi"}]}
    )
    return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(body))


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    (tmp_path / "gateway.toml").write_text(CONFIG)
    return build_runtime(load_config(tmp_path / "gateway.toml", env={}), env={})


def router(upstream: FakeUpstream, clock: FakeClock) -> Router:
    return Router(
        MemoryState(),
        DeploymentStats(),
        Metrics(),
        lambda provider: upstream,
        clock,
        random.Random(7),
    )


def request(runtime: Runtime, kind: EndpointKind, model: str, clock: FakeClock) -> RouteRequest:
    return RouteRequest(
        runtime=runtime,
        kind=kind,
        body={"model": model, **BODIES[kind]},
        model=runtime.config.models[model],
        stream=False,
        key_id="k",
        started=clock.monotonic(),
        body_bytes=100,
        prompt_tokens=lambda: 1,
    )


@pytest.mark.parametrize("kind", ["embeddings", "completions"])
async def test_a_mixed_model_sends_them_only_to_its_openai_deployments(
    runtime: Runtime, kind: EndpointKind
) -> None:
    upstream, clock = FakeUpstream(answer), FakeClock()
    routing = router(upstream, clock)
    for _ in range(4):  # round robin would give the Anthropic deployment every other turn
        exchange = Exchange()
        await routing.route(request(runtime, kind, "mixed", clock), exchange)
        assert [a.deployment for a in exchange.attempts] == ["oai/ok-embed"]
    assert all(r.url.startswith("http://openai.invalid/v1/") for r in upstream.requests)


@pytest.mark.parametrize("kind", ["embeddings", "completions"])
async def test_a_fallback_without_such_deployments_is_passed_over(
    runtime: Runtime, kind: EndpointKind
) -> None:
    upstream, clock = FakeUpstream(answer), FakeClock()
    exchange = Exchange()
    await router(upstream, clock).route(request(runtime, kind, "flaky", clock), exchange)
    assert [(a.model, a.deployment) for a in exchange.attempts] == [
        ("flaky", "oai/e500-embed"),
        ("mixed", "oai/ok-embed"),
    ]
    assert exchange.fallback_used


@pytest.mark.parametrize("kind", ["embeddings", "completions"])
async def test_a_model_without_such_deployments_is_a_400_on_model(
    runtime: Runtime, kind: EndpointKind
) -> None:
    upstream, clock = FakeUpstream(answer), FakeClock()
    exchange = Exchange()
    with pytest.raises(GatewayError) as refused:
        await router(upstream, clock).route(request(runtime, kind, "claude", clock), exchange)
    error = refused.value
    assert (error.status, error.kind, error.param) == (400, "invalid_request_error", "model")
    assert "'claude' has no deployment that serves" in error.message
    assert upstream.requests == [] and exchange.attempts == []


def test_chat_keeps_every_deployment(runtime: Runtime) -> None:
    """Only the two endpoints see the filtered model; a model all of whose deployments serve
    them is the configured model itself."""
    models = runtime.config.models
    assert runtime.openai_only_models["flaky"] is models["flaky"]
    assert "claude" not in runtime.openai_only_models
    assert runtime.openai_only_models["mixed"].deployment_names == ("oai/ok-embed",)
    assert models["mixed"].deployment_names == ("ant/claude-haiku", "oai/ok-embed")
