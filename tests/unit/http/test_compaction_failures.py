"""The gateway's compaction over a Responses server that does not compact (`compaction`), when
that server fails: a response that failed, a stream cut before its end, a body that is no JSON,
an echoed provider key. The client gets the endpoint's error (a stream: its error event after
the opening events), never a 500 nor a compaction of nothing; every request is recorded."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.sse import SSEDecoder
from gateway.upstream import UpstreamError, UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.unit.pipeline.app_harness import open_gateway

PROVIDER_KEY = "sk-proj-compactionfailure0123456789abcdef"
CONFIG = """
[routing]
max_attempts = 1

[[providers]]
name = "vr"
type = "openai"
base_url = "http://vllm.invalid/v1"
api_key_env = "COMPACTION_FAILURE_KEY"
responses = true

[[models]]
name = "m"
[[models.deployments]]
provider = "vr"
model = "qwen"

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""
TRIGGERED = {
    "model": "m",
    "input": [{"role": "user", "content": "hi"}, {"type": "compaction_trigger"}],
    "stream": True,
}


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPACTION_FAILURE_KEY", PROVIDER_KEY)


def sse(event: dict[str, object]) -> bytes:
    return f"event: {event['type']}\ndata: ".encode() + orjson.dumps(event) + b"\n\n"


def _types(raw: bytes) -> list[str]:
    return [orjson.loads(e.data)["type"] for e in SSEDecoder().feed(raw)]


@pytest.mark.parametrize(
    ("ending", "error"),
    [
        ("failed", "server_error"),
        ("cut", "stream_interrupted"),
        ("dropped", "stream_interrupted"),
    ],
)
async def test_a_failing_stream_ends_in_the_error_event(
    tmp_path: Path, ending: str, error: str
) -> None:
    opening = {"type": "response.created", "sequence_number": 0, "response": {"id": "r"}}
    delta = {"type": "response.output_text.delta", "sequence_number": 1, "delta": "Sum"}
    failed = {
        "type": "response.failed",
        "sequence_number": 2,
        "response": {"status": "failed",
                     "error": {"code": "server_error", "message": f"crashed {PROVIDER_KEY}"}},
    }  # fmt: skip
    chunks: list[bytes | UpstreamError] = [sse(opening), sse(delta)]
    if ending == "failed":
        chunks.append(sse(failed))
    elif ending == "dropped":
        chunks.append(UpstreamError("protocol", "connection reset"))

    def handler(request: UpstreamRequest) -> FakeReply:
        assert request.url.endswith("/v1/responses")
        return FakeReply(200, {"content-type": "text/event-stream"}, chunks)

    async with open_gateway(tmp_path, CONFIG, {}, handler) as gateway:
        answer = await gateway.client.post("/v1/responses", json=TRIGGERED)
        (record,) = gateway.records()
    assert answer.status_code == 200 and PROVIDER_KEY not in answer.text
    types = _types(answer.content)
    assert types[:2] == ["response.created", "response.in_progress"] and types[-1] == "error"
    assert "response.output_item.done" not in types  # no compaction of a summary cut short
    assert record["status"] == 200 and error in str(record["attempts"]) + str(record["error_type"])


async def test_a_body_that_is_no_json_is_a_502(tmp_path: Path) -> None:
    def handler(request: UpstreamRequest) -> FakeReply:
        return FakeReply(200, {"content-type": "application/json"}, b'{"output": [')

    async with open_gateway(tmp_path, CONFIG, {}, handler) as gateway:
        answer = await gateway.client.post("/v1/responses", json={**TRIGGERED, "stream": False})
        compact = await gateway.client.post(
            "/v1/responses/compact", json={"model": "m", "input": "hi"}
        )
        records = gateway.records()
    assert answer.status_code == compact.status_code == 502
    assert answer.json()["error"]["code"] == "upstream_malformed"
    assert [r["status"] for r in records] == [502, 502]
