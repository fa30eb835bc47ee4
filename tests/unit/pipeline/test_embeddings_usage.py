"""An embeddings answer whose usage counts nothing (absent, `{}`, or zeros, as some
OpenAI-compatible servers send) is not taken as free: the record, spend and tpm get the
gateway's estimate of the input, marked `usage_estimated`."""

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
base_url = "http://lmstudio.invalid/v1"

[[models]]
name = "embed"
[[models.deployments]]
provider = "local"
model = "nomic-embed-text-v1.5"
input_cost_per_1m = 1000.0

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""
INPUT = ["The quick brown fox jumps over the lazy dog.", "Pack my box with five dozen jugs."]
BODY = {"model": "embed", "input": INPUT}
ABSENT = object()


def answering(usage: object) -> FakeHandler:
    def handler(request: UpstreamRequest) -> FakeReply:
        data = [{"object": "embedding", "index": i, "embedding": [0.5]} for i in range(2)]
        answer: dict[str, Any] = {"object": "list", "data": data, "model": "nomic"}
        if usage is not ABSENT:
            answer["usage"] = usage
        return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(answer))

    return handler


@pytest.mark.parametrize(
    "usage", [ABSENT, None, {}, {"prompt_tokens": 0, "total_tokens": 0}], ids=repr
)
async def test_usage_that_counts_nothing_is_estimated(tmp_path: Path, usage: object) -> None:
    async with open_gateway(tmp_path, CONFIG, {}, answering(usage)) as gateway:
        answer = await gateway.client.post(
            "/v1/embeddings", json={"model": "embed", "input": INPUT}
        )
        assert answer.status_code == 200
        record = gateway.records()[-1]
    expected = tokens.count_prompt(INPUT)
    assert (record["prompt_tokens"], record["usage_estimated"]) == (expected, True)
    assert record["cost_usd"] == pytest.approx(expected * 1000.0 / 1e6)


@pytest.mark.parametrize(
    "usage",
    [{"prompt_tokens": 21, "total_tokens": 21}, {"total_tokens": 21}],  # Voyage: total only
    ids=repr,
)
async def test_counted_usage_is_the_upstream_s(tmp_path: Path, usage: dict[str, int]) -> None:
    async with open_gateway(tmp_path, CONFIG, {}, answering(usage)) as gateway:
        answer = await gateway.client.post(
            "/v1/embeddings", json={"model": "embed", "input": INPUT}
        )
        assert answer.json()["usage"] == usage  # passed on as sent
        record = gateway.records()[-1]
    assert (record["prompt_tokens"], record["usage_estimated"]) == (21, False)
