"""Responses API conversations: a `previous_response_id` pinned to its deployment (and, for a
translated one, its conversation put back ahead of the input), unknown and foreign ids, and a
state backend that is down."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path

import orjson
import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.errors import GatewayError, ServiceUnavailable
from gateway.observability.recorder import MemorySink
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.conversations import KEY_PREFIX, continue_conversation
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate, parse_body, resolve_model
from gateway.state import MemoryState, StateUnavailable

CONFIG = f"""
[[providers]]
name = "native"
type = "mock"

[[providers]]
name = "chat"
type = "mock"
responses = false

[[models]]
name = "native"
[[models.deployments]]
provider = "native"
model = "mock-small"

[[models]]
name = "translated"
[[models.deployments]]
provider = "chat"
model = "mock-small"

[[keys]]
id = "mine"
team = "a"
key_sha256 = "{hashlib.sha256(b"sk-mine").hexdigest()}"

[[keys]]
id = "theirs"
team = "b"
key_sha256 = "{hashlib.sha256(b"sk-theirs").hexdigest()}"
"""


class DownState(MemoryState):
    async def recall(self, key: str, now: float) -> bytes | None:
        raise StateUnavailable("redis is down", kind="timeout")


def services(tmp_path: Path) -> Services:
    (tmp_path / "config.toml").write_text(CONFIG)
    config = load_config(tmp_path / "config.toml", env={})
    app = create_app(config, recorder=MemorySink(), watch_config=False)
    result: Services = app.state.services
    return result


async def follow_up(
    svc: Services, model: str, previous: str, key: str = "sk-mine"
) -> RequestContext:
    ctx = RequestContext(
        Endpoint("/v1/responses", "responses", "openai"),
        svc.runtime,
        "req_1",
        time.time(),
        time.monotonic(),
        {"authorization": f"Bearer {key}"},
    )
    body = {"model": model, "input": "and now?", "previous_response_id": previous}
    ctx.raw_body = orjson.dumps(body)
    for stage in (authenticate, parse_body, resolve_model, continue_conversation):
        await stage(ctx, svc)
    return ctx


async def remember(svc: Services, response_id: str, entry: Mapping[str, object]) -> None:
    await svc.state.remember(KEY_PREFIX + response_id, orjson.dumps(entry), 60, time.time())


async def test_a_follow_up_is_pinned_and_a_translated_one_gets_its_conversation(
    tmp_path: Path,
) -> None:
    svc = services(tmp_path)
    await remember(svc, "resp_n", {"deployment": "native/mock-small", "owner": "team:a"})
    ctx = await follow_up(svc, "native", "resp_n")
    assert ctx.pinned_deployment == "native/mock-small"
    assert ctx.body is not None and ctx.body["previous_response_id"] == "resp_n"
    earlier = [{"type": "message", "role": "user", "content": "I am Ada"}]
    entry = {"deployment": "chat/mock-small", "owner": "team:a", "items": earlier}
    await remember(svc, "resp_t", entry)
    ctx = await follow_up(svc, "translated", "resp_t")
    assert ctx.pinned_deployment == "chat/mock-small"
    assert ctx.body is not None and "previous_response_id" not in ctx.body
    assert ctx.body["input"] == [
        *earlier,
        {"type": "message", "role": "user", "content": "and now?"},
    ]
    await svc.aclose()


async def test_unknown_foreign_and_misplaced_ids(tmp_path: Path) -> None:
    svc = services(tmp_path)
    await remember(svc, "resp_n", {"deployment": "native/mock-small", "owner": "team:a"})
    await remember(svc, "resp_gone", {"deployment": "old/model", "owner": "team:a"})
    cases = [
        # OpenAI answers an unknown previous_response_id with a 400 (openai.BadRequestError).
        ("native", "resp_unknown", "sk-mine", 400, "previous_response_not_found"),
        ("native", "resp_n", "sk-theirs", 400, "previous_response_not_found"),
        ("translated", "resp_n", "sk-mine", 409, "previous_response_other_model"),
        ("native", "resp_gone", "sk-mine", 404, "previous_response_deployment_gone"),
    ]
    for model, previous, key, status, code in cases:
        with pytest.raises(GatewayError) as caught:
            await follow_up(svc, model, previous, key)
        assert (caught.value.status, caught.value.code) == (status, code)
        assert caught.value.param == "previous_response_id"
    await svc.aclose()


async def test_a_state_backend_that_is_down_is_a_503_and_counted(tmp_path: Path) -> None:
    svc = services(tmp_path)
    svc.state = DownState()
    with pytest.raises(ServiceUnavailable):
        await follow_up(svc, "native", "resp_n")
    assert 'gateway_state_errors_total{kind="timeout"} 1.0' in svc.metrics.render().decode()
    await svc.aclose()


async def test_a_damaged_remembered_response_is_unknown(tmp_path: Path) -> None:
    svc = services(tmp_path)
    await svc.state.remember(KEY_PREFIX + "resp_bad", b"\xff{not json", 60, time.time())
    with pytest.raises(GatewayError) as caught:
        await follow_up(svc, "native", "resp_bad")
    assert (caught.value.status, caught.value.code) == (400, "previous_response_not_found")
    await svc.aclose()
