"""An upstream stream whose error event comes in the same read as content events before it:
the client is sent those events, then the gateway's error event; with an output guardrail,
those events went through it as any output does. The record keeps the upstream's error."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.unit.pipeline.app_harness import open_gateway

CONFIG = """
[[providers]]
name = "oa"
type = "openai"
base_url = "http://oa.invalid/v1"
api_key_env = "STREAM_TAIL_KEY"

[[models]]
name = "m"
[[models.deployments]]
provider = "oa"
model = "gpt"

[[keys]]
id = "app"
key_sha256 = "{digest}"
{policy}
"""
PII = '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "output"\naction = "redact"\n'
REQUEST = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
ERROR = b'data: {"error": {"message": "The model crashed.", "type": "server_error"}}\n\n'


def chunk(content: str) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": None}
    return b"data: " + orjson.dumps({"id": "c1", "choices": [choice]}) + b"\n\n"


def handler(request: UpstreamRequest) -> FakeReply:
    reads = [chunk("Hello"), chunk(", write to ") + chunk("jo@example.com, thanks. ") + ERROR]
    return FakeReply(200, {"content-type": "text/event-stream"}, reads)


def sent(body: bytes) -> tuple[str, list[object]]:
    """The text of the chunks a client got, and the errors of its error events."""
    text, errors = "", []
    for line in body.split(b"\n\n"):
        if line.startswith(b"data: "):
            data = orjson.loads(line[6:])
            if "error" in data:
                errors.append(data["error"]["message"])
            else:
                text += data["choices"][0]["delta"].get("content") or ""
    return text, errors


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_TAIL_KEY", "sk-stream-tail-0123456789")


async def test_the_events_before_an_error_in_its_read_reach_the_client(tmp_path: Path) -> None:
    config = CONFIG.replace("{policy}", "")
    async with open_gateway(tmp_path, config, {}, handler) as gateway:
        answer = await gateway.client.post("/v1/chat/completions", json=REQUEST)
        (record,) = gateway.records()
    assert answer.status_code == 200
    before = chunk("Hello") + chunk(", write to ") + chunk("jo@example.com, thanks. ")
    assert answer.content.startswith(before)
    text, errors = sent(answer.content)
    assert text == "Hello, write to jo@example.com, thanks. "
    assert errors == ["upstream stream error: The model crashed."]  # the last event
    assert (record["status"], record["error_type"]) == (200, "upstream_error")


async def test_with_an_output_guardrail_they_go_through_it(tmp_path: Path) -> None:
    config = CONFIG.replace("{policy}", 'policy = "pii"')
    async with open_gateway(tmp_path, config, {"pii": PII}, handler) as gateway:
        answer = await gateway.client.post("/v1/chat/completions", json=REQUEST)
        (record,) = gateway.records()
    text, errors = sent(answer.content)
    assert text.startswith("Hello, write to <EMAIL_ADDRESS>, thanks.")
    assert b"jo@example.com" not in answer.content
    assert errors == ["upstream stream error: The model crashed."]
    assert record["error_type"] == "upstream_error"
