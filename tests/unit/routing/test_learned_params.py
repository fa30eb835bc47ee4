"""Advisory fields a strict server refuses (Codex 0.155's `client_metadata` and
`access_programs`, a `prompt_cache_key` on Azure AI Foundry): the request is asked again without
them in the same attempt, and the provider's next requests leave them out. A field that changes
the answer is never dropped so."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.errors import GatewayError, UpstreamRejected
from gateway.observability.metrics import Metrics
from gateway.routing.deployment_stats import DeploymentStats
from gateway.routing.exchange import Exchange, RouteRequest
from gateway.routing.learned_params import LearnedDrops
from gateway.routing.router import Router
from gateway.runtime import build_runtime
from gateway.state import MemoryState
from gateway.upstream import FakeReply, FakeUpstream, UpstreamRequest

CONFIG = """
[routing]
max_attempts = 1

[[providers]]
name = "strict"
type = "openai"
base_url = "http://strict.invalid/v1"
responses = true

[[models]]
name = "m"
[[models.deployments]]
provider = "strict"
model = "open-model"
"""
KNOWN = {"model", "input", "instructions", "tools", "stream", "reasoning", "text", "include"}
RESPONSE = orjson.dumps(
    {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "open-model",
        "status": "completed",
        "output": [
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Done.", "annotations": []}],
            }
        ],
        "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
    }
)


def strict(request: UpstreamRequest) -> FakeReply:
    """A Responses server that refuses the first field it does not know, in its own words."""
    unknown = [name for name in orjson.loads(request.body) if name not in KNOWN]
    if unknown:
        error = {"message": f"[invalid_request_error] unknown parameter `{unknown[0]}`"}
        return FakeReply(400, {}, orjson.dumps({"error": error}))
    return FakeReply(200, {}, RESPONSE)


async def ask(tmp_path: Path, upstream: FakeUpstream, times: int, **fields: Any) -> Exchange:
    (tmp_path / "gateway.toml").write_text(CONFIG)
    runtime = build_runtime(load_config(tmp_path / "gateway.toml", env={}), env={})
    clock = FakeClock()
    router = Router(
        MemoryState(), DeploymentStats(), Metrics(), lambda p: upstream, clock, random.Random()
    )
    exchange = Exchange()
    for _ in range(times):
        body = {"model": "m", "input": "Fix it.", **fields}
        request = RouteRequest(
            runtime=runtime,
            kind="responses",
            body=body,
            model=runtime.config.models["m"],
            stream=False,
            key_id="k",
            started=clock.monotonic(),
            body_bytes=100,
            prompt_tokens=lambda: 5,
        )
        exchange = Exchange()
        await router.route(request, exchange)
    return exchange


def sent_fields(upstream: FakeUpstream) -> list[set[str]]:
    return [set(orjson.loads(r.body)) - KNOWN for r in upstream.requests]


CODEX = {"client_metadata": {"source": "codex"}, "access_programs": {"cyber": "daybreak_blue"}}


async def test_codex_fields_a_strict_server_refuses_are_left_out(tmp_path: Path) -> None:
    upstream = FakeUpstream(strict)
    exchange = await ask(tmp_path, upstream, 2, **CODEX, prompt_cache_key="s1")
    assert exchange.json is not None and exchange.json["status"] == "completed"
    assert sent_fields(upstream) == [
        {"client_metadata", "access_programs", "prompt_cache_key"},  # refused: client_metadata
        {"access_programs", "prompt_cache_key"},  # refused: access_programs
        {"prompt_cache_key"},  # refused: prompt_cache_key
        set(),  # answered, in the same attempt
        set(),  # the next request: all three left out at once
    ]
    assert [a.status for a in exchange.attempts] == [200]  # (the second request's)


async def test_a_field_that_changes_the_answer_is_never_dropped(tmp_path: Path) -> None:
    upstream = FakeUpstream(strict)
    with pytest.raises(GatewayError) as refused:
        await ask(tmp_path, upstream, 1, truncation="auto")
    assert refused.value.status == 400 and "truncation" in refused.value.message
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    "message",
    [
        "Unrecognized request argument supplied: prompt_cache_key",  # Azure AI Foundry
        "Unknown parameter: 'prompt_cache_key'.",
        "body.prompt_cache_key: Extra inputs are not permitted",  # FastAPI, vLLM strict
        'Invalid JSON payload received. Unknown name "prompt_cache_key": Cannot find field.',
    ],
)
def test_the_servers_words_name_the_field(message: str) -> None:
    drops = LearnedDrops()
    sent = orjson.dumps({"model": "m", "prompt_cache_key": "s"})
    assert drops.learn("p", sent, UpstreamRejected(400, message))
    assert drops.dropped("p") == ("prompt_cache_key",)
    assert not drops.learn("p", sent, UpstreamRejected(400, message))  # known already
    # A field named that the body did not hold is not learned.
    assert not LearnedDrops().learn("p", b'{"model":"m"}', UpstreamRejected(400, message))
