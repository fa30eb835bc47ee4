"""An answer that calls a tool, from an upstream that reports no usage, is counted and priced on
its arguments (the tokens the model wrote) whether it came as JSON or as a stream: the stream's
estimate counted only text deltas, so a tool call cost $0 of output."""

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
name = "local"
type = "openai"
base_url = "http://ollama.invalid/v1"
stream_usage = false

[[models]]
name = "chat"
[[models.deployments]]
provider = "local"
model = "served"
input_cost_per_1m = 0.0
output_cost_per_1m = 1000000.0

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""
BODY = {"model": "chat", "messages": [{"role": "user", "content": "Weather in Paris and Rome?"}]}
ARGUMENTS = ['{"city": "Paris", "unit": "celsius"}', '{"city": "Rome", "unit": "celsius"}']


def _call(index: int, arguments: str) -> dict[str, Any]:
    function = {"name": "get_weather", "arguments": arguments}
    return {"index": index, "id": f"call_{index}", "type": "function", "function": function}


def answering(stream: bool) -> FakeHandler:
    def handler(request: UpstreamRequest) -> FakeReply:
        if not stream:
            calls = [_call(i, arguments) for i, arguments in enumerate(ARGUMENTS)]
            message = {"role": "assistant", "content": None, "tool_calls": calls}
            choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
            answer = {"object": "chat.completion", "choices": [choice]}
            return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(answer))
        chunks: list[dict[str, Any]] = []
        for i, arguments in enumerate(ARGUMENTS):
            named = _call(i, "")
            chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [named]}}]})
            for half in (arguments[:10], arguments[10:]):
                part = {"index": i, "function": {"arguments": half}}
                chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [part]}}]})
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
        body = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)
        return FakeReply(200, {"content-type": "text/event-stream"}, body + b"data: [DONE]\n\n")

    return handler


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_tool_call_without_usage_is_priced_on_its_arguments(
    tmp_path: Path, stream: bool
) -> None:
    async with open_gateway(tmp_path, CONFIG, {}, answering(stream)) as gateway:
        answer = await gateway.client.post("/v1/chat/completions", json={**BODY, "stream": stream})
        assert answer.status_code == 200
        record = gateway.records()[-1]
    written = tokens.count_text("".join(ARGUMENTS))
    assert record["usage_estimated"] is True
    assert record["completion_tokens"] >= written
    assert record["cost_usd"] >= written
