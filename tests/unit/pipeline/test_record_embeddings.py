"""With `include_bodies`, an embeddings record keeps the request and the answer without its
vectors (a batch of float vectors is tens of megabytes a line); the client gets them all."""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.unit.pipeline.app_harness import open_gateway

CONFIG = """
[logging]
include_bodies = true

[[providers]]
name = "oai"
type = "openai"
base_url = "http://openai.invalid/v1"

[[models]]
name = "embed"
[[models.deployments]]
provider = "oai"
model = "text-embedding-3-small"

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""
DIMENSIONS = 5


def vector(index: int) -> list[float]:
    return [index + n / 8 for n in range(DIMENSIONS)]


def embeddings(request: UpstreamRequest) -> FakeReply:
    body = orjson.loads(request.body)
    data: list[dict[str, Any]] = []
    for index in range(len(body["input"])):
        value: Any = vector(index)
        if body.get("encoding_format") == "base64":
            value = base64.b64encode(struct.pack(f"<{DIMENSIONS}f", *value)).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    usage = {"prompt_tokens": 2, "total_tokens": 2}
    answer = {"object": "list", "data": data, "model": body["model"], "usage": usage}
    return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(answer))


@pytest.mark.parametrize("encoding", ["float", "base64"])
async def test_the_record_keeps_the_answer_without_its_vectors(
    tmp_path: Path, encoding: str
) -> None:
    async with open_gateway(tmp_path, CONFIG, {}, embeddings) as gateway:
        body = {"model": "embed", "input": ["one", "two"], "encoding_format": encoding}
        answer = await gateway.client.post("/v1/embeddings", json=body)
        assert answer.status_code == 200
        sent = answer.json()["data"]
        record = gateway.records()[-1]
    if encoding == "float":
        assert [item["embedding"] for item in sent] == [vector(0), vector(1)]
    else:
        assert len(base64.b64decode(sent[1]["embedding"])) == 4 * DIMENSIONS
    assert record["request"] == body
    assert record["response"] == {
        "object": "list",
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
        "data": [
            {"object": "embedding", "index": 0, "embedding_dimensions": DIMENSIONS},
            {"object": "embedding", "index": 1, "embedding_dimensions": DIMENSIONS},
        ],
    }
