"""A chat answer whose `usage` is an empty object (`"usage": {}`, as some OpenAI-compatible
servers send) reported nothing: the record, spend and tpm get the gateway's estimate, marked
`usage_estimated`, as for an answer without `usage` (not 0 tokens and $0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeHandler, FakeReply
from tests.unit.pipeline.app_harness import open_gateway

CONFIG = """
[[providers]]
name = "local"
type = "openai"
base_url = "http://vllm.invalid/v1"

[[models]]
name = "chat"
[[models.deployments]]
provider = "local"
model = "served"
input_cost_per_1m = 1000.0
output_cost_per_1m = 1000.0

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""
BODY = {"model": "chat", "messages": [{"role": "user", "content": "Say hello to the world."}]}
TEXT = "Hello, world! It is a fine day."


def answering(stream: bool) -> FakeHandler:
    def handler(request: UpstreamRequest) -> FakeReply:
        if not stream:
            message = {"role": "assistant", "content": TEXT}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            answer: dict[str, Any] = {"object": "chat.completion", "choices": [choice]}
            answer["usage"] = {}
            return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(answer))
        chunks = [
            {"choices": [{"index": 0, "delta": {"content": TEXT}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {}},
        ]
        body = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)
        return FakeReply(200, {"content-type": "text/event-stream"}, body + b"data: [DONE]\n\n")

    return handler


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_an_empty_usage_object_is_estimated(tmp_path: Path, stream: bool) -> None:
    async with open_gateway(tmp_path, CONFIG, {}, answering(stream)) as gateway:
        answer = await gateway.client.post("/v1/chat/completions", json={**BODY, "stream": stream})
        assert answer.status_code == 200
        record = gateway.records()[-1]
    assert record["usage_estimated"] is True
    assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0
    assert record["cost_usd"] > 0
