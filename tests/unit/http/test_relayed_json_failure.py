"""A non-streamed Responses answer that says it failed (HTTP 200, `"status": "failed"`, its
`error`): the client gets it as the upstream sent it, and the request is recorded and counted
as the failure a stream ending with `response.failed` is (status 200, the upstream's error), a
failure for the deployment's breaker, never cached. Fetched again (`GET /v1/responses/{id}`),
the same failed response is a fetch that succeeded."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeHandler, FakeReply
from tests.unit.pipeline.app_harness import open_gateway

PROVIDER_KEY = "sk-proj-relayedjsonfailure0123456789ab"
CONFIG = """
[routing]
breaker_failures = 1

[[providers]]
name = "oa"
type = "openai"
base_url = "http://oa.invalid/v1"
api_key_env = "RELAYED_JSON_FAILURE_KEY"
responses = true

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
POLICIES = {"cached": '[cache]\nmode = "exact"\nttl_s = 60\n'}
REQUEST = {"model": "m", "input": "hi"}
USAGE = {"input_tokens": 3, "output_tokens": 0, "total_tokens": 3}


def answering(status: str, **fields: object) -> tuple[bytes, FakeHandler, list[str]]:
    """A response of `status` (with `fields`), an upstream answering it (200) to every call,
    and the methods it was called with."""
    response = {"id": "resp_1", "object": "response", "status": status, "output": []}
    body = orjson.dumps({**response, "usage": USAGE, **fields})
    calls: list[str] = []

    def handler(request: UpstreamRequest) -> FakeReply:
        calls.append(request.method)
        return FakeReply(200, {"content-type": "application/json"}, [body])

    return body, handler, calls


def failing(code: str, message: str) -> tuple[bytes, FakeHandler, list[str]]:
    return answering("failed", error={"code": code, "message": message})


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYED_JSON_FAILURE_KEY", PROVIDER_KEY)


async def test_a_failed_response_is_relayed_as_it_is_and_recorded_as_a_failure(
    tmp_path: Path,
) -> None:
    body, handler, calls = failing("server_error", f"The model crashed (key {PROVIDER_KEY}).")
    async with open_gateway(tmp_path, CONFIG, POLICIES, handler) as gateway:
        answer = await gateway.client.post("/v1/responses", json=REQUEST)
        assert answer.status_code == 200
        # As the upstream sent it, but for the gateway's own key (`answer_scrub`).
        assert answer.content == body.replace(PROVIDER_KEY.encode(), b"****")
        await gateway.background_done()
        (record,) = gateway.records()
        metrics = (await gateway.client.get("/metrics")).text
    assert record["status"] == 200 and not record["stream"]
    assert record["error_type"] == "server_error"
    assert record["error_message"] == "upstream answer failed: The model crashed (key ****)."
    assert [a["error"] for a in record["attempts"]] == ["server_error"]
    assert 'gateway_upstream_errors_total{deployment="oa/gpt",kind="server_error"} 1.0' in metrics
    # The upstream failed: the breaker (one failure opens it here) took the deployment out.
    assert 'gateway_deployment_up{deployment="oa/gpt"} 0.0' in metrics
    assert calls == ["POST"]


async def test_a_failed_response_is_never_cached(tmp_path: Path) -> None:
    config = CONFIG.replace("breaker_failures = 1", "breaker_failures = 5")
    _, handler, calls = failing("server_error", "The model crashed.")
    async with open_gateway(tmp_path, config, POLICIES, handler) as gateway:
        for _ in range(2):  # `store` false: a request the cache may answer
            answer = await gateway.client.post("/v1/responses", json={**REQUEST, "store": False})
            assert answer.headers["x-gateway-cache"] == "miss"
            await gateway.background_done()
    assert calls == ["POST", "POST"]  # the second went upstream again


async def test_a_rate_limited_failed_response_benches_the_deployment_not_its_breaker(
    tmp_path: Path,
) -> None:
    _, handler, _ = failing("rate_limit_exceeded", "Rate limit reached.")
    async with open_gateway(tmp_path, CONFIG, POLICIES, handler) as gateway:
        await gateway.client.post("/v1/responses", json=REQUEST)
        (record,) = gateway.records()
        metrics = (await gateway.client.get("/metrics")).text
        again = await gateway.client.post("/v1/responses", json=REQUEST)
    assert record["error_type"] == "rate_limit_exceeded"
    assert 'gateway_deployment_up{deployment="oa/gpt"} 1.0' in metrics
    assert again.status_code == 429  # benched for `rate_limit_cooldown_s`


async def test_an_incomplete_response_is_no_failure(tmp_path: Path) -> None:
    body, handler, _ = answering("incomplete", incomplete_details={"reason": "max_output_tokens"})
    async with open_gateway(tmp_path, CONFIG, POLICIES, handler) as gateway:
        answer = await gateway.client.post("/v1/responses", json=REQUEST)
        (record,) = gateway.records()
        metrics = (await gateway.client.get("/metrics")).text
    assert answer.status_code == 200 and answer.content == body
    assert record["error_type"] is None and record["attempts"][0]["error"] is None
    assert 'gateway_deployment_up{deployment="oa/gpt"} 1.0' in metrics


async def test_a_failed_response_fetched_again_is_a_fetch_that_succeeded(tmp_path: Path) -> None:
    config = CONFIG.replace("breaker_failures = 1", "breaker_failures = 5")
    body, handler, calls = failing("server_error", "The model crashed.")
    async with open_gateway(tmp_path, config, POLICIES, handler) as gateway:
        await gateway.client.post("/v1/responses", json=REQUEST)
        fetched = await gateway.client.get("/v1/responses/resp_1")
        made, fetch = gateway.records()
    assert calls == ["POST", "GET"]
    assert fetched.status_code == 200 and fetched.content == body  # the failed response
    assert made["error_type"] == "server_error"
    # The fetch did what it was asked: the response it returns failed long before.
    assert fetch["status"] == 200 and fetch["error_type"] is None
