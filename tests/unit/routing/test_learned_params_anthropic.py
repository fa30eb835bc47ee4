"""Claude Code's telemetry field `diagnostics` (Claude Code 2.1.258 and later), refused by a
server that does not know it in Anthropic's words ("diagnostics: Extra inputs are not
permitted": Anthropic's API without the beta that admits it, an Anthropic-compatible server):
the request is asked again without it, and the provider's next requests leave it out. A
nested field refused so (a message's) is no top-level advisory field and teaches nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.errors import GatewayError, UpstreamRejected
from gateway.providers.anthropic.context_edits import CLEAR_TOOL_USES, PLACEHOLDER
from gateway.routing.learned_params import refused_fields
from gateway.upstream import FakeReply, FakeUpstream, UpstreamRequest
from tests.unit.routing.router_harness import ConfiguredRouter

CONFIG = """
[routing]
max_attempts = 1

[[providers]]
name = "compat"
type = "anthropic"
base_url = "http://compat.invalid"

[[models]]
name = "m"
[[models.deployments]]
provider = "compat"
model = "glm-5"
"""
KNOWN = {"model", "messages", "max_tokens", "system", "stream", "tools", "metadata"}  # (its API)
ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "glm-5",
    "content": [{"type": "text", "text": "Hi."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 3, "output_tokens": 2},
}


def strict(request: UpstreamRequest) -> FakeReply:
    unknown = [name for name in orjson.loads(request.body) if name not in KNOWN]
    if unknown:
        message = f"{unknown[0]}: Extra inputs are not permitted"
        error = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
        return FakeReply(400, {}, orjson.dumps(error))
    return FakeReply(200, {}, orjson.dumps(ANSWER))


async def ask(routed: ConfiguredRouter, **fields: Any) -> Any:
    body = {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    return await routed.route({**body, **fields}, "messages")


async def test_claude_codes_diagnostics_are_left_out_where_refused(tmp_path: Path) -> None:
    upstream = FakeUpstream(strict)
    routed = ConfiguredRouter(tmp_path, CONFIG, upstream)
    diagnostics = {"session": "s1", "events": []}
    exchange = await ask(routed, diagnostics=diagnostics)
    assert exchange.json is not None and exchange.json["content"][0]["text"] == "Hi."
    await ask(routed, diagnostics=diagnostics)
    sent = [set(orjson.loads(r.body)) - KNOWN for r in upstream.requests]
    assert sent == [{"diagnostics"}, set(), set()]  # refused, asked again, then left out


async def test_a_field_that_changes_the_answer_is_still_the_clients_error(tmp_path: Path) -> None:
    upstream = FakeUpstream(strict)
    with pytest.raises(GatewayError) as refused:
        await ask(ConfiguredRouter(tmp_path, CONFIG, upstream), output_config={"effort": "low"})
    assert "output_config" in refused.value.message and len(upstream.requests) == 1


def test_only_a_top_level_field_is_named_so() -> None:
    sent = orjson.dumps({"model": "m", "diagnostics": {}, "metadata": {"user_id": "u"}})
    nested = "messages.1.metadata: Extra inputs are not permitted"
    assert refused_fields(sent, UpstreamRejected(400, nested)) == ()
    top = "diagnostics: Extra inputs are not permitted"
    assert refused_fields(sent, UpstreamRejected(400, top)) == ("diagnostics",)


def tool_loop() -> list[Any]:
    messages: list[Any] = [{"role": "user", "content": "Check both."}]
    for n in (1, 2):
        call = {"type": "tool_use", "id": f"toolu_{n}", "name": "read", "input": {"n": n}}
        result = {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": f"file {n}"}
        messages += [
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [result]},
        ]
    return messages


async def test_context_editing_refused_is_done_by_the_gateway(tmp_path: Path) -> None:
    """Claude Code's `context_management` to an Anthropic-compatible server that refuses it:
    the gateway clears the old tool results itself (as for an OpenAI-format deployment) and
    sends the request without the field; the provider's next requests likewise."""
    upstream = FakeUpstream(strict)
    routed = ConfiguredRouter(tmp_path, CONFIG, upstream)
    edit = {
        "type": CLEAR_TOOL_USES,
        "trigger": {"type": "tool_uses", "value": 2},
        "keep": {"type": "tool_uses", "value": 1},
    }
    management = {"edits": [edit]}
    messages = tool_loop()
    await ask(routed, messages=messages, context_management=management)
    await ask(routed, messages=tool_loop(), context_management=management)
    sent = [orjson.loads(r.body) for r in upstream.requests]
    assert ["context_management" in body for body in sent] == [True, False, False]
    for body in sent[1:]:
        results = [m["content"][0]["content"] for m in body["messages"][2::2]]
        assert results == [PLACEHOLDER, "file 2"]  # the older one cleared, the last kept
    assert messages == tool_loop()  # the client's own conversation as it came
