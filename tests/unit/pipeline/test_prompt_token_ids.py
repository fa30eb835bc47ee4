"""Embeddings `input` and completions `prompt` sent as token ids (LangChain's embeddings send
token arrays) count their ids: in the tpm reservation, and in the record when the upstream
reports no usage (Ollama- and TEI-like servers may not)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.limits.estimate import completion_texts
from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.unit.pipeline.app_harness import Gateway, open_gateway

CONFIG = """
[[providers]]
name = "local"
type = "openai"
base_url = "http://ollama.invalid/v1"

[[models]]
name = "embed"
[[models.deployments]]
provider = "local"
model = "nomic-embed-text"
input_cost_per_1m = 1000.0

[[keys]]
id = "app"
key_sha256 = "{digest}"
policy = "metered"
"""
POLICY = """
[limits]
tpm = 100000
"""
TPM = 100000


def answer_without_usage(request: UpstreamRequest) -> FakeReply:
    """An OpenAI-compatible answer with no `usage`, as some local servers send it."""
    body = orjson.loads(request.body)
    if request.url.endswith("/embeddings"):
        items = body["input"] if isinstance(body["input"][0], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.5]} for i in range(len(items))]
        answer: dict[str, Any] = {"object": "list", "data": data, "model": body["model"]}
    else:
        choice = {"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}
        answer = {"object": "text_completion", "model": body["model"], "choices": [choice]}
    return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(answer))


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with open_gateway(tmp_path, CONFIG, {"metered": POLICY}, answer_without_usage) as gw:
        yield gw


@pytest.mark.parametrize(
    ("path", "body", "ids"),
    [
        ("/v1/embeddings", {"input": [[9906, 1917] * 150, [15339] * 50]}, 350),
        ("/v1/embeddings", {"input": [9906] * 120}, 120),
        ("/v1/completions", {"prompt": [9906] * 200, "max_tokens": 10}, 200),
        ("/v1/completions", {"prompt": [[9906] * 30, [1917] * 40], "max_tokens": 10}, 70),
    ],
)
async def test_token_ids_are_counted_when_the_upstream_reports_no_usage(
    gateway: Gateway, path: str, body: dict[str, Any], ids: int
) -> None:
    answer = await gateway.client.post(path, json={"model": "embed", **body})
    assert answer.status_code == 200, answer.text
    # max_tokens for each prompt of a completion batch (none for embeddings).
    completion = body.get("max_tokens", 0) * completion_texts(body)
    # Reserved before the call: the ids (and max_tokens), not nothing.
    assert int(answer.headers["x-ratelimit-remaining-tokens"]) == TPM - ids - completion
    record = gateway.records()[-1]
    assert record["usage_estimated"] is True
    assert record["prompt_tokens"] == ids
    assert record["cost_usd"] == pytest.approx(ids * 1000.0 / 1e6)
