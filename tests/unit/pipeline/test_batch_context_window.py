"""A deployment's `context_window` limits each input of an embeddings batch (and each prompt of
a legacy completion batch), not their sum: LangChain sends 1,000 chunks of a document in one
request, each well within the model's 8,191 tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.unit.pipeline.app_harness import open_gateway

CONFIG = """
[[providers]]
name = "oai"
type = "openai"
base_url = "http://openai.invalid/v1"

[[models]]
name = "small-window"
[[models.deployments]]
provider = "oai"
model = "text-embedding-3-small"
context_window = 1000

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""
CHUNK = "lorem ipsum dolor sit amet " * 40  # about 200 tokens
TOO_LONG = "lorem ipsum dolor sit amet " * 400  # about 2,000 tokens


def answer(request: UpstreamRequest) -> FakeReply:
    body = orjson.loads(request.body)
    if request.url.endswith("/embeddings"):
        data = [{"object": "embedding", "index": i, "embedding": [0.5]} for i in range(2)]
        out: dict[str, Any] = {"object": "list", "data": data, "model": body["model"]}
    else:
        choice = {"index": 0, "text": "ok", "logprobs": None, "finish_reason": "stop"}
        out = {"object": "text_completion", "model": body["model"], "choices": [choice]}
    return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(out))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/embeddings", {"input": [CHUNK] * 50}),  # ~10,000 tokens in all
        ("/v1/embeddings", {"input": [[9906] * 900] * 20}),
        ("/v1/completions", {"prompt": [CHUNK] * 20, "max_tokens": 5}),
    ],
)
async def test_a_batch_of_inputs_that_each_fit_is_served(
    tmp_path: Path, path: str, body: dict[str, Any]
) -> None:
    async with open_gateway(tmp_path, CONFIG, {}, answer) as gateway:
        served = await gateway.client.post(path, json={"model": "small-window", **body})
    assert served.status_code == 200, served.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/embeddings", {"input": [CHUNK, TOO_LONG, CHUNK]}),
        ("/v1/embeddings", {"input": [9906] * 1200}),  # one input as token ids
        ("/v1/completions", {"prompt": [CHUNK, TOO_LONG], "max_tokens": 5}),
    ],
)
async def test_an_input_over_the_window_is_still_refused(
    tmp_path: Path, path: str, body: dict[str, Any]
) -> None:
    async with open_gateway(tmp_path, CONFIG, {}, answer) as gateway:
        refused = await gateway.client.post(path, json={"model": "small-window", **body})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "context_length_exceeded"
