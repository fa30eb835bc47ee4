"""The router under test: a config whose upstream model names say how the fake upstream answers
(`ok-*` 200, `e500-*` 500, ...), a fake clock that records every wait, and `Harness` to route
requests through them. Shared by test_router.py and test_router_rate_limits.py."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.errors import GatewayError
from gateway.json_types import JSON
from gateway.observability.metrics import Metrics
from gateway.providers import EndpointKind
from gateway.routing.deployment_stats import DeploymentStats
from gateway.routing.exchange import Exchange, RouteRequest
from gateway.routing.router import Router
from gateway.runtime import Runtime, build_runtime
from gateway.state import MemoryState
from gateway.upstream import (
    FakeReply,
    FakeUpstream,
    UpstreamClient,
    UpstreamError,
    UpstreamRequest,
)
from gateway.upstream.fake import FakeHandler

ANSWER = orjson.dumps(
    {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
)


def responses_answer(model: str, text: str = "Done.") -> bytes:
    """A completed Responses API answer of one message saying `text`."""
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    usage = {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    response = {"id": "resp_1", "object": "response", "created_at": 1, "model": model}
    return orjson.dumps({**response, "status": "completed", "output": [message], "usage": usage})


def _error(status: int, code: str | None = None, kind: str = "x") -> bytes:
    return orjson.dumps({"error": {"message": f"status {status}", "type": kind, "code": code}})


QUOTA = orjson.dumps(
    {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing "
            "details.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
)


def answer(request: UpstreamRequest) -> FakeReply:
    """The fake provider: the upstream model name says how it answers."""
    model = str(orjson.loads(request.body)["model"])
    if model.startswith("ok"):
        return FakeReply(200, {"content-type": "application/json"}, ANSWER)
    if model.startswith("e500"):
        return FakeReply(500, {}, _error(500))
    if model.startswith("e429ms"):
        return FakeReply(429, {"retry-after-ms": "700"}, _error(429, "rate_limit_exceeded"))
    if model.startswith("e429slow"):
        return FakeReply(429, {"retry-after": "30"}, _error(429, "rate_limit_exceeded"))
    if model.startswith("e429bare"):
        return FakeReply(429, {}, _error(429, "rate_limit_exceeded", "tokens"))
    if model.startswith("e429"):
        return FakeReply(429, {"retry-after": "2"}, _error(429, "rate_limit_exceeded"))
    if model.startswith("quota"):
        return FakeReply(429, {}, QUOTA)
    if model.startswith("e503"):
        return FakeReply(503, {"retry-after": "2"}, _error(503))
    if model.startswith("e504"):
        return FakeReply(504, {"retry-after": "2"}, _error(504))
    if model.startswith("e400"):
        return FakeReply(400, {}, _error(400, "invalid_value"))
    if model.startswith("policy"):
        return FakeReply(400, {}, _error(400, "content_policy_violation"))
    if model.startswith("badkey"):
        return FakeReply(401, {}, _error(401, "invalid_api_key"))
    if model.startswith("down"):
        raise UpstreamError("connect", "connection refused")
    raise AssertionError(model)


CONFIG = """
[server]
request_timeout_s = 30

[routing]
max_attempts = 3
backoff_base_s = 0.5
backoff_max_s = 4.0
breaker_failures = 2
breaker_window_s = 60
breaker_cooldown_s = 10

[[providers]]
name = "up"
type = "openai"
base_url = "http://upstream.invalid/v1"
api_key_env = "UP_KEY"

[[models]]
name = "retry"
strategy = "round_robin"
[[models.deployments]]
provider = "up"
model = "e500-a"
[[models.deployments]]
provider = "up"
model = "ok-b"

[[models]]
name = "broken"
fallbacks = ["fine"]
[[models.deployments]]
provider = "up"
model = "e500-only"

[[models]]
name = "fine"
[[models.deployments]]
provider = "up"
model = "ok-fine"

[[models]]
name = "limited"
[[models.deployments]]
provider = "up"
model = "e429-x"

[[models]]
name = "busy"
strategy = "round_robin"
fallbacks = ["also-busy"]
[[models.deployments]]
provider = "up"
model = "e429-a"
[[models.deployments]]
provider = "up"
model = "e429ms-b"

[[models]]
name = "also-busy"
[[models.deployments]]
provider = "up"
model = "e429slow-c"

[[models]]
name = "bare-limit"
[[models.deployments]]
provider = "up"
model = "e429bare-x"

[[models]]
name = "no-quota"
strategy = "round_robin"
[[models.deployments]]
provider = "up"
model = "quota-a"
[[models.deployments]]
provider = "up"
model = "quota-b"

[[models]]
name = "overloaded"
[[models.deployments]]
provider = "up"
model = "e503-x"

[[models]]
name = "timing-out"
[[models.deployments]]
provider = "up"
model = "e504-x"

[[models]]
name = "misconfigured"
[[models.deployments]]
provider = "up"
model = "badkey-x"

[[models]]
name = "refused"
fallbacks = ["fine"]
[[models.deployments]]
provider = "up"
model = "e400-x"

[[models]]
name = "unreachable"
[[models.deployments]]
provider = "up"
model = "down-x"

[[models]]
name = "filtered"
content_policy_fallbacks = ["fine"]
[[models.deployments]]
provider = "up"
model = "policy-x"

[[models]]
name = "small"
context_window_fallbacks = ["fine"]
[[models.deployments]]
provider = "up"
model = "ok-small"
context_window = 10

[[models]]
name = "cheap"
fallbacks = ["pricey", "fine"]
[[models.deployments]]
provider = "up"
model = "e500-cheap"

[[models]]
name = "pricey"
[[models.deployments]]
provider = "up"
model = "ok-pricey"

[[keys]]
id = "k"
key_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
"""


ENV = {"UP_KEY": "sk-upstream"}


class Harness:
    def __init__(self, tmp_path: Path, handler: FakeHandler) -> None:
        (tmp_path / "gateway.toml").write_text(CONFIG)
        config = load_config(tmp_path / "gateway.toml", env=ENV)
        self.runtime: Runtime = build_runtime(config, env=ENV)
        self.upstream = FakeUpstream(handler)
        self.clock = FakeClock()
        self.state = MemoryState()
        self.router = Router(
            self.state,
            DeploymentStats(),
            Metrics(),
            lambda provider: self.upstream,
            self.clock,
            random.Random(7),
        )

    def request(self, model: str, prompt_tokens: int = 3, body_bytes: int = 100) -> RouteRequest:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        return RouteRequest(
            runtime=self.runtime,
            kind="chat",
            body=body,
            model=self.runtime.config.models[model],
            stream=False,
            key_id="k",
            started=self.clock.monotonic(),
            body_bytes=body_bytes,
            prompt_tokens=lambda: prompt_tokens,
        )

    async def route(self, model: str, **kwargs: int) -> Exchange:
        exchange = Exchange()
        await self.router.route(self.request(model, **kwargs), exchange)
        return exchange

    async def fail(self, model: str) -> tuple[GatewayError, Exchange]:
        exchange = Exchange()
        with pytest.raises(GatewayError) as caught:
            await self.router.route(self.request(model), exchange)
        return caught.value, exchange

    def sent(self) -> list[str]:
        return [str(orjson.loads(r.body)["model"]) for r in self.upstream.requests]


def tried(exchange: Exchange) -> list[tuple[str, int | None, str | None]]:
    return [(a.deployment, a.status, a.error_kind) for a in exchange.attempts]


class ConfiguredRouter:
    """One worker's router over the config `config`, every provider answered by `upstream`
    (a later assignment to `upstream` is used from then on), asked as the pipeline asks it."""

    def __init__(self, tmp_path: Path, config: str, upstream: UpstreamClient) -> None:
        (tmp_path / "gateway.toml").write_text(config)
        self.runtime = build_runtime(load_config(tmp_path / "gateway.toml", env={}), env={})
        self.clock = FakeClock()
        self.client = upstream
        self.router = Router(
            MemoryState(),
            DeploymentStats(),
            Metrics(),
            lambda provider: self.client,
            self.clock,
            random.Random(1),
        )

    async def route(
        self, body: JSON, kind: EndpointKind = "chat", anthropic_beta: str | None = None
    ) -> Exchange:
        """The exchange of `body` (its `model` a model of the config), routed."""
        request = RouteRequest(
            runtime=self.runtime,
            kind=kind,
            body=body,
            model=self.runtime.config.models[body["model"]],
            stream=body.get("stream") is True,
            key_id="k",
            started=self.clock.monotonic(),
            body_bytes=100,
            prompt_tokens=lambda: 5,
            anthropic_beta=anthropic_beta,
        )
        exchange = Exchange()
        await self.router.route(request, exchange)
        return exchange
