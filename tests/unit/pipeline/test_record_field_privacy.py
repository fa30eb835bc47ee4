"""A secret a client or an upstream puts in a short field of the record (the end user, the
session id, a tag's name, the model asked for, the finish reason, an attempt's error, the
upstream's request id, the model the upstream says answered) leaves the record, and the spans
built from it, scrubbed; and none of these fields is longer than its bound."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from gateway.config.types import TracingConfig
from gateway.observability.metrics import Metrics
from gateway.observability.tracing import OtlpTracer
from gateway.pipeline import record as record_module
from gateway.pipeline.record_text import MAX_TEXT_CHARS
from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeHandler, FakeReply
from tests.unit.pipeline.app_harness import Gateway, open_gateway

PROVIDER_KEY = "prov-secret-7f3a9c2e51"
SHAPED = "Bearer sk-live4242424242"
CONFIG = """
[[providers]]
name = "oa"
type = "openai"
base_url = "http://oa.invalid/v1"
api_key_env = "FIELD_PRIVACY_KEY"
responses = true

[[models]]
name = "m"
[[models.deployments]]
provider = "oa"
model = "gpt"

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELD_PRIVACY_KEY", PROVIDER_KEY)  # the runtime's secrets read it


class Kept(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def chat_answer(
    finish_reason: str = "stop", model: str = "gpt", request_id: str = ""
) -> FakeHandler:
    def handler(request: UpstreamRequest) -> FakeReply:
        message = {"role": "assistant", "content": "yo"}
        choice = {"index": 0, "message": message, "finish_reason": finish_reason}
        answer = {"object": "chat.completion", "model": model, "choices": [choice]}
        headers = {"content-type": "application/json", "x-request-id": request_id or "req_1"}
        return FakeReply(200, headers, orjson.dumps(answer))

    return handler


def failed_response(code: str) -> FakeHandler:
    """A Responses stream the upstream ends with `response.failed` naming `code`."""
    error = {"code": code, "message": "it broke"}
    failed = {"id": "resp_1", "object": "response", "status": "failed", "error": error}
    event = {"type": "response.failed", "sequence_number": 0, "response": failed}
    body = b"event: response.failed\ndata: " + orjson.dumps(event) + b"\n\n"

    def handler(request: UpstreamRequest) -> FakeReply:
        return FakeReply(200, {"content-type": "text/event-stream"}, [body])

    return handler


async def traced(
    tmp_path: Path, handler: FakeHandler, path: str, body: dict[str, Any], **headers: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record of one traced request, and its server span's attributes."""
    kept = Kept()
    config = TracingConfig(endpoint="http://127.0.0.1:9/v1/traces")
    tracer = OtlpTracer(config, Metrics(), kept)
    gateway: Gateway
    async with open_gateway(tmp_path, CONFIG, {}, handler) as gateway:
        gateway.services.tracer = gateway.services.records.tracer = tracer
        await gateway.client.post(path, json=body, headers=headers)
        (record,) = gateway.records()
    tracer.shutdown()  # exports what it holds
    (server,) = [span for span in kept.spans if span.parent is None]
    return record, dict(server.attributes or {})


def assert_no_secret(*where: object) -> None:
    for text in map(str, where):
        assert PROVIDER_KEY not in text and "sk-live4242424242" not in text


async def test_the_end_user_and_the_session_id_are_scrubbed(tmp_path: Path) -> None:
    body = {**CHAT, "user": f"jane key {PROVIDER_KEY}"}
    session = {"x-gateway-session-id": f"conv-1 {SHAPED}"}
    record, span = await traced(tmp_path, chat_answer(), "/v1/chat/completions", body, **session)
    assert record["user"] == "jane key ****"
    assert record["session_id"] == "conv-1 Bearer ****"
    assert_no_secret(record, span)


async def test_a_tag_name_is_scrubbed_as_its_value_is(tmp_path: Path) -> None:
    tags = {"x-gateway-tags": f"sk-live4242424242=1,feature={PROVIDER_KEY}"}
    record, span = await traced(tmp_path, chat_answer(), "/v1/chat/completions", CHAT, **tags)
    assert record["tags"] == {"sk-****": "1", "feature": "****"}
    assert_no_secret(record, span)


async def test_a_model_the_gateway_does_not_serve_is_scrubbed_and_bounded(
    tmp_path: Path,
) -> None:
    body = {**CHAT, "model": f"{SHAPED} " + "x" * 100_000}
    record, span = await traced(tmp_path, chat_answer(), "/v1/chat/completions", body)
    assert record["status"] == 404
    assert record["model"].startswith("Bearer ****") and len(record["model"]) == MAX_TEXT_CHARS
    assert span["gen_ai.request.model"] == record["model"]
    assert_no_secret(record, span)


async def test_what_the_upstream_says_of_its_answer_is_scrubbed(tmp_path: Path) -> None:
    handler = chat_answer(
        finish_reason=f"stop {SHAPED}", model=f"gpt {PROVIDER_KEY}", request_id="r" * 20_000
    )
    record, span = await traced(tmp_path, handler, "/v1/chat/completions", CHAT)
    assert record["finish_reason"] == "stop Bearer ****"
    assert list(span["gen_ai.response.finish_reasons"]) == ["stop Bearer ****"]
    assert span["gen_ai.response.model"] == "gpt ****"
    assert record["upstream_request_id"] == "r" * 256
    assert_no_secret(record, span)


async def test_the_usual_finish_reason_is_kept_as_it_is(tmp_path: Path) -> None:
    record, span = await traced(tmp_path, chat_answer(), "/v1/chat/completions", CHAT)
    assert record["finish_reason"] == "stop" and span["gen_ai.response.model"] == "gpt"
    assert record["model"] == "m" and record["user"] is None and record["session_id"] is None


async def test_an_attempt_error_the_upstream_names_is_scrubbed(tmp_path: Path) -> None:
    body = {"model": "m", "input": "hi", "stream": True}
    handler = failed_response(f"bad_key_{PROVIDER_KEY}")
    record, span = await traced(tmp_path, handler, "/v1/responses", body)
    assert record["attempts"][-1]["error"] == "bad_key_****"
    assert_no_secret(record, span)


async def test_the_record_of_a_failed_build_scrubs_the_model_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> dict[str, Any]:
        raise OverflowError("a value no record can hold")

    monkeypatch.setattr(record_module, "build_record", broken)
    body = {**CHAT, "model": f"{SHAPED} " + "x" * 100_000}
    async with open_gateway(tmp_path, CONFIG, {}, chat_answer()) as gateway:
        assert (await gateway.client.post("/v1/chat/completions", json=body)).status_code == 404
        (record,) = gateway.records()
    assert "record_error" in record
    assert record["model"].startswith("Bearer ****") and len(record["model"]) == MAX_TEXT_CHARS
