"""A deployment of a reasoning model not marked `reasoning = true`: its upstream refuses the
client's `max_tokens` (or a sampling setting) in OpenAI's words; the request is asked again as
for a reasoning deployment in the same attempt, and the deployment's next requests go so."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.config.types import DeploymentConfig
from gateway.errors import UpstreamRejected
from gateway.routing.exchange import Exchange
from gateway.routing.learned_reasoning import refused_as_reasoning
from gateway.upstream import FakeReply, FakeUpstream, UpstreamRequest
from tests.unit.routing.router_harness import ConfiguredRouter

CONFIG = """
[routing]
max_attempts = 1

[[providers]]
name = "oai"
type = "openai"
base_url = "http://oai.invalid/v1"

[[models]]
name = "m"
[[models.deployments]]
provider = "oai"
model = "o4-mini"
"""
MAX_TOKENS = (
    "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
    "'max_completion_tokens' instead."
)
TEMPERATURE = (
    "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default "
    "(1) value is supported."
)
ANSWER = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "o4-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi."}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


def refusal(message: str, param: str) -> FakeReply:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
    return FakeReply(400, {}, orjson.dumps({"error": error}))


def reasoning_model(request: UpstreamRequest) -> FakeReply:
    """OpenAI's o4-mini on chat completions: no `max_tokens`, no sampling settings."""
    body = orjson.loads(request.body)
    if "max_tokens" in body:
        return refusal(MAX_TOKENS, "max_tokens")
    if body.get("temperature", 1) != 1:
        return refusal(TEMPERATURE, "temperature")
    return FakeReply(200, {}, orjson.dumps(ANSWER))


async def ask(routed: ConfiguredRouter, **fields: Any) -> Exchange:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    return await routed.route(body)


def sent(upstream: FakeUpstream) -> list[dict[str, Any]]:
    return [orjson.loads(r.body) for r in upstream.requests]


async def test_the_request_is_asked_again_as_a_reasoning_models_and_so_are_the_next(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    upstream = FakeUpstream(reasoning_model)
    routed = ConfiguredRouter(tmp_path, CONFIG, upstream)
    with caplog.at_level(logging.INFO, "gateway.routing"):
        exchange = await ask(routed, max_tokens=50, temperature=0.2, reasoning_effort="low")
    assert "deployment oai/o4-mini serves a reasoning model" in caplog.text
    assert exchange.json is not None and exchange.json["choices"][0]["message"]["content"]
    first, second = sent(upstream)
    assert first["max_tokens"] == 50 and first["temperature"] == 0.2
    assert second["max_completion_tokens"] == 50
    assert "max_tokens" not in second and "temperature" not in second
    assert [a.status for a in exchange.attempts] == [400, 200]  # asked again, answered
    await ask(routed, max_tokens=10, temperature=0.5)
    assert sent(upstream)[-1]["max_completion_tokens"] == 10  # asked so at once
    assert len(upstream.requests) == 3


async def test_a_refusal_of_a_field_the_request_did_not_hold_teaches_nothing(
    tmp_path: Path,
) -> None:
    """An error that quotes what another client sent: asked once, refused, nothing kept."""
    upstream = FakeUpstream(lambda request: refusal(MAX_TOKENS, "max_tokens"))
    routed = ConfiguredRouter(tmp_path, CONFIG, upstream)
    with pytest.raises(UpstreamRejected):
        await ask(routed, max_completion_tokens=50)
    assert len(upstream.requests) == 1
    assert (
        routed.router.learned.reasoning.deployment(
            routed.runtime.config.models["m"].deployments[0]
        ).reasoning
        is False
    )


@pytest.mark.parametrize(
    ("message", "body", "taught"),
    [
        (MAX_TOKENS, b'{"max_tokens":5}', True),
        (TEMPERATURE, b'{"temperature":0.2}', True),
        (
            "Unsupported parameter: 'stop' is not supported with this model.",
            b'{"stop":["x"]}',
            True,
        ),
        (MAX_TOKENS, b'{"max_completion_tokens":5}', False),
        ("Unsupported parameter: 'seed' is not supported with this model.", b'{"seed":1}', False),
        ("Invalid value for 'max_tokens'.", b'{"max_tokens":5}', False),
    ],
)
def test_only_what_reasoning_models_refuse_teaches(message: str, body: bytes, taught: bool) -> None:
    deployment = DeploymentConfig(provider="oai", model="o4-mini")
    error = UpstreamRejected(400, message)
    assert refused_as_reasoning(deployment, body, error) is taught
    marked = DeploymentConfig(provider="oai", model="o4-mini", reasoning=True)
    assert refused_as_reasoning(marked, body, error) is False
