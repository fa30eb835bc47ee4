"""A Responses stream whose upstream ends it with `response.failed`: the client gets the stream
as the upstream sent it, and the request is recorded and counted as a stream that failed after
its first byte (status 200, the upstream's error), a failure for the deployment's breaker."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.upstream import UpstreamError, UpstreamRequest
from gateway.upstream.fake import FakeHandler, FakeReply
from tests.unit.pipeline.app_harness import open_gateway

PROVIDER_KEY = "sk-proj-relayedfailure0123456789abcdef"
CONFIG = """
[routing]
breaker_failures = 1

[[providers]]
name = "oa"
type = "openai"
base_url = "http://oa.invalid/v1"
api_key_env = "RELAYED_FAILURE_KEY"
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
REQUEST = {"model": "m", "input": "hi", "stream": True}
USAGE = {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}


def sse(data: dict[str, object]) -> bytes:
    return f"event: {data['type']}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def failing(code: str, message: str, then_drop: bool = False) -> tuple[bytes, FakeHandler]:
    """The stream of an upstream whose response fails with `code`, and an upstream sending it
    (`then_drop`: that drops the connection after it, its body never ended)."""
    answer: dict[str, object] = {"id": "resp_1", "object": "response", "status": "in_progress"}
    failed = {**answer, "status": "failed", "usage": USAGE}
    failed["error"] = {"code": code, "message": message}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": answer},
        {"type": "response.output_text.delta", "sequence_number": 1, "delta": "Hel"},
        {"type": "response.failed", "sequence_number": 2, "response": failed},
    ]
    body = b"".join(sse(event) for event in events)

    def handler(request: UpstreamRequest) -> FakeReply:
        dropped = [UpstreamError("protocol", "connection reset")] if then_drop else []
        return FakeReply(200, {"content-type": "text/event-stream"}, [body, *dropped])

    return body, handler


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYED_FAILURE_KEY", PROVIDER_KEY)


async def test_a_failed_response_is_recorded_and_counted_as_a_failed_stream(
    tmp_path: Path,
) -> None:
    body, handler = failing("server_error", f"The model crashed (key {PROVIDER_KEY}).")
    async with open_gateway(tmp_path, CONFIG, {}, handler) as gateway:
        answer = await gateway.client.post("/v1/responses", json=REQUEST)
        assert answer.status_code == 200
        # Relayed as it is (no error event of the gateway's), but for the gateway's own key.
        assert answer.content == body.replace(PROVIDER_KEY.encode(), b"****")
        (record,) = gateway.records()
        metrics = (await gateway.client.get("/metrics")).text
    # The response's own status, as the client was told it.
    assert record["status"] == 200 and record["finish_reason"] == "failed"
    assert record["error_type"] == "server_error"
    assert record["error_message"] == "upstream stream error: The model crashed (key ****)."
    assert [a["error"] for a in record["attempts"]] == ["server_error"]
    assert record["prompt_tokens"] == 3  # the usage the failed response reported
    assert 'gateway_upstream_errors_total{deployment="oa/gpt",kind="server_error"} 1.0' in metrics
    # The upstream broke: the breaker (one failure opens it here) took the deployment out.
    assert 'gateway_deployment_up{deployment="oa/gpt"} 0.0' in metrics


async def test_a_rate_limited_failed_response_benches_the_deployment_not_its_breaker(
    tmp_path: Path,
) -> None:
    _, handler = failing("rate_limit_exceeded", "Rate limit reached.")
    async with open_gateway(tmp_path, CONFIG, {}, handler) as gateway:
        await gateway.client.post("/v1/responses", json=REQUEST)
        (record,) = gateway.records()
        metrics = (await gateway.client.get("/metrics")).text
        again = await gateway.client.post("/v1/responses", json=REQUEST)
    assert record["error_type"] == "rate_limit_exceeded"
    assert 'gateway_deployment_up{deployment="oa/gpt"} 1.0' in metrics
    assert again.status_code == 429  # benched for `rate_limit_cooldown_s`


async def test_a_failed_response_is_recorded_so_when_the_upstream_then_drops(
    tmp_path: Path,
) -> None:
    """The client has the stream's last event: the drop after it changes nothing it got."""
    body, handler = failing("server_error", "The model crashed.", then_drop=True)
    async with open_gateway(tmp_path, CONFIG, {}, handler) as gateway:
        answer = await gateway.client.post("/v1/responses", json=REQUEST)
        (record,) = gateway.records()
    assert answer.content == body
    assert (record["status"], record["error_type"]) == (200, "server_error")
    assert [a["error"] for a in record["attempts"]] == ["server_error"]
