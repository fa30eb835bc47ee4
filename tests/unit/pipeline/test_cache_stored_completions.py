"""A chat request with `store: true` asks OpenAI to keep its completion (with its `metadata`,
for distillation and evals, retrievable by id): the cache neither answers nor stores it."""

from __future__ import annotations

from itertools import count
from pathlib import Path

import orjson

from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeHandler, FakeReply
from tests.unit.pipeline.app_harness import open_gateway

CONFIG = """
[[providers]]
name = "oa"
type = "openai"
base_url = "http://oa.invalid/v1"

[[models]]
name = "m"
[[models.deployments]]
provider = "oa"
model = "gpt"

[[keys]]
id = "app"
key_sha256 = "{digest}"
policy = "cached"
"""
POLICY = '[cache]\nmode = "exact"\n'
MESSAGES = [{"role": "user", "content": "hi"}]


def numbered() -> FakeHandler:
    """An upstream whose completions have ids chatcmpl-1, chatcmpl-2 ..."""
    ids = count(1)

    def handler(request: UpstreamRequest) -> FakeReply:
        message = {"role": "assistant", "content": "hello"}
        answer = {
            "id": f"chatcmpl-{next(ids)}",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
        }
        return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(answer))

    return handler


async def test_a_stored_completion_is_never_cached(tmp_path: Path) -> None:
    async with open_gateway(tmp_path, CONFIG, {"cached": POLICY}, numbered()) as gateway:
        seen = []
        for store in (True, True, False, False):
            body = {"model": "m", "messages": MESSAGES, "store": store, "metadata": {"run": "1"}}
            answer = await gateway.client.post("/v1/chat/completions", json=body)
            await gateway.background_done()
            seen.append((answer.headers["x-gateway-cache"], answer.json()["id"]))
    assert seen == [
        ("bypass", "chatcmpl-1"),
        ("bypass", "chatcmpl-2"),
        ("miss", "chatcmpl-3"),
        ("hit", "chatcmpl-3"),
    ]
