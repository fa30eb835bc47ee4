"""The thinking blocks kept for a chat client's tool loop: put back on the message the request
returns results to (only one without its own), per key or team, the client's body unchanged;
a state backend that is down or a damaged entry leaves the request as it came, counted."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate, parse_body, resolve_model
from gateway.pipeline.thinking_store import KEY_PREFIX, restore_thinking
from gateway.state import MemoryState, StateUnavailable

CONFIG = f"""
[[providers]]
name = "ant"
type = "anthropic"
base_url = "http://claude.invalid"

[[models]]
name = "fable"
[[models.deployments]]
provider = "ant"
model = "claude-fable-5"

[[keys]]
id = "mine"
team = "a"
key_sha256 = "{hashlib.sha256(b"sk-mine").hexdigest()}"

[[keys]]
id = "theirs"
key_sha256 = "{hashlib.sha256(b"sk-theirs").hexdigest()}"
"""
ENTRIES = [{"type": "reasoning.text", "text": "", "signature": "gw1-x~c2ln", "format": "f"}]
CALL = {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


class DownState(MemoryState):
    async def recall(self, key: str, now: float) -> bytes | None:
        raise StateUnavailable("redis is down", kind="timeout")


def services(tmp_path: Path) -> Services:
    (tmp_path / "config.toml").write_text(CONFIG)
    config = load_config(tmp_path / "config.toml", env={})
    app = create_app(config, recorder=MemorySink(), watch_config=False)
    result: Services = app.state.services
    return result


def loop(assistant: dict[str, Any]) -> list[Any]:
    return [
        {"role": "user", "content": "Weather?"},
        assistant,
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
    ]


async def restored(svc: Services, messages: list[Any], key: str = "sk-mine") -> RequestContext:
    ctx = RequestContext(
        Endpoint("/v1/chat/completions", "chat", "openai"),
        svc.runtime,
        "req_1",
        time.time(),
        time.monotonic(),
        {"authorization": f"Bearer {key}"},
    )
    ctx.raw_body = orjson.dumps({"model": "fable", "messages": messages})
    for stage in (authenticate, parse_body, resolve_model, restore_thinking):
        await stage(ctx, svc)
    return ctx


async def keep(svc: Services, owner: str, value: bytes) -> None:
    await svc.state.remember(f"{KEY_PREFIX}{owner}:toolu_1", value, 60, time.time())


async def test_the_kept_blocks_go_back_on_the_message_of_their_key_or_team(
    tmp_path: Path,
) -> None:
    svc = services(tmp_path)
    await keep(svc, "team:a", orjson.dumps(ENTRIES))
    written = {"role": "assistant", "content": None, "tool_calls": [CALL]}
    ctx = await restored(svc, loop(written))
    assert ctx.body is not None
    assert ctx.body["messages"][1] == {**written, "reasoning_details": ENTRIES}
    assert "reasoning_details" not in written  # the client's own message as it came
    theirs = await restored(svc, loop(written), "sk-theirs")  # another key: nothing kept
    assert theirs.body is not None and "reasoning_details" not in theirs.body["messages"][1]


@pytest.mark.parametrize(
    "messages",
    [
        loop({"role": "assistant", "tool_calls": [CALL], "reasoning_details": []}),  # its own
        [{"role": "user", "content": "Weather?"}],  # no tool results
        loop({"role": "user", "content": "odd"}),
        loop({"role": "assistant", "tool_calls": [{"id": 7}]}),
    ],
)
async def test_only_a_message_without_its_own_blocks_is_given_them(
    tmp_path: Path, messages: list[Any]
) -> None:
    svc = services(tmp_path)
    await keep(svc, "team:a", orjson.dumps(ENTRIES))
    ctx = await restored(svc, messages)
    assert ctx.body is not None and ctx.body["messages"] == messages


@pytest.mark.parametrize("value", [b"not json", b'{"a": 1}', b"[]"])
async def test_a_damaged_entry_is_no_entry(tmp_path: Path, value: bytes) -> None:
    svc = services(tmp_path)
    await keep(svc, "team:a", value)
    written = {"role": "assistant", "tool_calls": [CALL]}
    ctx = await restored(svc, loop(written))
    assert ctx.body is not None and ctx.body["messages"][1] == written


async def test_a_state_backend_down_leaves_the_request_as_it_came(tmp_path: Path) -> None:
    svc = services(tmp_path)
    svc.state = DownState()
    written = {"role": "assistant", "tool_calls": [CALL]}
    ctx = await restored(svc, loop(written))
    assert ctx.body is not None and ctx.body["messages"][1] == written
    text = svc.metrics.render().decode()
    assert 'gateway_state_errors_total{kind="timeout"} 1.0' in text
