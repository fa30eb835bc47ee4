"""An Anthropic stream cut short while the model thinks (or writes a tool call's input) is
recorded with at least the tokens it wrote: Anthropic bills thinking and tool input as output,
while its `message_start` says `output_tokens: 1` until `message_delta`, which never came."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway import tokens
from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeHandler, FakeReply
from tests.unit.pipeline.app_harness import open_gateway

CONFIG = """
[[providers]]
name = "claude"
type = "anthropic"
base_url = "http://anthropic.invalid"

[[models]]
name = "sonnet"
[[models.deployments]]
provider = "claude"
model = "claude-sonnet-4-5"
output_cost_per_1m = 1000000.0

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""
THOUGHT = "Let me weigh the options carefully before I answer, one step after another. " * 8
TOOL_INPUT = '{"city": "Paris", "unit": "celsius", "days": 3}'


def _event(data: dict[str, Any]) -> bytes:
    return b"event: " + str(data["type"]).encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def cut_while_writing(request: UpstreamRequest) -> FakeReply:
    usage = {"input_tokens": 12, "output_tokens": 1}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "usage": usage}
    thinking = {"type": "thinking", "thinking": ""}
    tool = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {**message, "model": "claude-sonnet-4-5"}},
        {"type": "content_block_start", "index": 0, "content_block": thinking},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": THOUGHT},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": tool},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": TOOL_INPUT},
        },
    ]  # and then the connection drops
    body = b"".join(_event(e) for e in events)
    return FakeReply(200, {"content-type": "text/event-stream"}, body)


HANDLER: FakeHandler = cut_while_writing


@pytest.mark.parametrize("route", ["/v1/messages", "/v1/chat/completions"])
async def test_a_stream_cut_while_thinking_counts_what_the_model_wrote(
    tmp_path: Path, route: str
) -> None:
    body = {
        "model": "sonnet",
        "stream": True,
        "max_tokens": 2000,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
    }
    async with open_gateway(tmp_path, CONFIG, {}, HANDLER) as gateway:
        answer = await gateway.client.post(route, json=body)
        assert answer.status_code == 200
        record = gateway.records()[-1]
    assert record["error_type"] == "stream_interrupted"
    written = tokens.count_text(THOUGHT + TOOL_INPUT)
    assert record["prompt_tokens"] == 12  # as Anthropic reported it
    assert record["completion_tokens"] >= written
    assert record["usage_estimated"] is True
    assert record["cost_usd"] >= written
