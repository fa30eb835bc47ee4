"""An answer stored in the cache keeps what its request was counted as: the upstream's usage,
else the gateway's estimate, marked so (an upstream that reports no usage, as some compatible
embeddings servers do, does not make a hit free of tokens)."""

from __future__ import annotations

from pathlib import Path

import orjson

from gateway import tokens
from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.unit.pipeline.app_harness import open_gateway

CONFIG = """
[[providers]]
name = "local"
type = "openai"
base_url = "http://tei.invalid/v1"

[[models]]
name = "embed"
[[models.deployments]]
provider = "local"
model = "bge-small"

[[keys]]
id = "app"
key_sha256 = "{digest}"
policy = "cached"
"""
POLICY = """
[cache]
mode = "exact"
"""
INPUT = ["The quick brown fox jumps over the lazy dog.", "Pack my box with five dozen jugs."]


def without_usage(request: UpstreamRequest) -> FakeReply:
    data = [{"object": "embedding", "index": i, "embedding": "AAAAPw=="} for i in range(2)]
    answer = {"object": "list", "data": data, "model": "bge-small"}
    return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(answer))


async def test_a_hit_on_an_answer_without_usage_counts_the_estimate(tmp_path: Path) -> None:
    body = {"model": "embed", "input": INPUT, "encoding_format": "base64"}
    async with open_gateway(tmp_path, CONFIG, {"cached": POLICY}, without_usage) as gateway:
        first = await gateway.client.post("/v1/embeddings", json=body)
        await gateway.background_done()  # the answer is stored
        again = await gateway.client.post("/v1/embeddings", json=body)
        miss, hit = gateway.records()[-2:]
    assert (first.headers["x-gateway-cache"], again.headers["x-gateway-cache"]) == ("miss", "hit")
    assert again.content == first.content  # the base64 answer, byte for byte
    expected = tokens.count_prompt(INPUT)
    assert (miss["prompt_tokens"], miss["usage_estimated"]) == (expected, True)
    assert (hit["prompt_tokens"], hit["usage_estimated"], hit["cost_usd"]) == (expected, True, 0)
