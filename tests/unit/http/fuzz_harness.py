"""The in-process gateway the fuzz tests drive: a fake upstream whose next answer is settable,
and the check every answer must pass (no 500, the endpoint's error shape, one record)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import httpx
from hypothesis import HealthCheck, settings

from gateway.app import create_app
from gateway.config.load import load_config
from gateway.observability.record_json import record_line
from gateway.observability.recorder import MemorySink
from gateway.pipeline.services import Services
from gateway.upstream import UpstreamClient, UpstreamRequest
from gateway.upstream.fake import FakeReply, FakeUpstream

# One attempt, no backoff, a breaker that never opens: every example reaches the upstream.
CONFIG = """
[routing]
max_attempts = 1
backoff_base_s = 0.001
breaker_failures = 1000000

[[providers]]
name = "oai"
type = "openai"
base_url = "http://upstream.invalid/v1"

[[providers]]
name = "ant"
type = "anthropic"
base_url = "http://upstream.invalid"

[[models]]
name = "gpt"
[[models.deployments]]
provider = "oai"
model = "m"
input_cost_per_1m = 1.0

[[models]]
name = "claude"
[[models.deployments]]
provider = "ant"
model = "m"

# Chat and Anthropic clients served through the Responses API (`api = "responses"`).
[[models]]
name = "bridged"
[[models.deployments]]
provider = "oai"
model = "m"
api = "responses"

[[keys]]
id = "fuzz"
key_sha256 = "{digest}"
policy = "fuzz"
"""
POLICY = """
# Limits that never bind: every request's prompt is counted for its tpm estimate.
[limits]
tpm = 1000000000

[cache]
mode = "exact"

[[guardrails]]
name = "pii"
type = "pii"
applies_to = "both"
action = "redact"
on_error = "allow"
"""
ENDPOINTS = {
    "/v1/chat/completions": "openai",
    "/v1/embeddings": "openai",
    "/v1/messages": "anthropic",
}
# Every endpoint the fuzz tests post to, with the error shape it answers in.
WIRES = {
    **ENDPOINTS,
    "/v1/responses": "openai",
    "/v1/responses/compact": "openai",
    "/v1/responses/input_tokens": "openai",
    "/v1/messages/count_tokens": "anthropic",
}
# Derandomized (the same examples on every run) and small: a CI budget of a few seconds each.
BUDGET = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
REQUEST_TIMEOUT_S = 10.0
FUZZ_KEY = "sk-fuzz"


class FakeNetwork:
    """Stands in for the network clients: every provider is the fake upstream."""

    def __init__(self, upstream: UpstreamClient) -> None:
        self.upstream = upstream

    def client(self, provider: object) -> UpstreamClient:
        return self.upstream

    async def aclose(self) -> None:
        pass


class Harness:
    """The app, its sink, and the answer the fake upstream gives next."""

    def __init__(self, root: Path) -> None:
        digest = hashlib.sha256(FUZZ_KEY.encode()).hexdigest()
        (root / "config.toml").write_text(CONFIG.replace("{digest}", digest))
        (root / "policies").mkdir()
        (root / "policies" / "fuzz.toml").write_text(POLICY)
        self.sink = MemorySink()
        app = create_app(load_config(root / "config.toml"), recorder=self.sink, watch_config=False)
        self.services: Services = app.state.services
        self.reply = FakeReply(500)
        self.services.network = FakeNetwork(FakeUpstream(self._answer))
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://gw")

    def _answer(self, request: UpstreamRequest) -> FakeReply:
        return self.reply

    def post(self, path: str, body: bytes) -> httpx.Response:
        headers = {"authorization": f"Bearer {FUZZ_KEY}", "content-type": "application/json"}
        request = self.client.post(path, content=body, headers=headers)
        return self.loop.run_until_complete(asyncio.wait_for(request, REQUEST_TIMEOUT_S))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.services.aclose())
        self.loop.close()


def check(harness: Harness, path: str, response: httpx.Response, records_before: int) -> None:
    """No 500, errors in the endpoint's shape, one record per request that can be written."""
    assert response.status_code != 500, response.text
    if response.status_code >= 400:
        body = response.json()
        if WIRES[path] == "anthropic":
            assert body["type"] == "error"
            assert isinstance(body["error"]["type"], str)
            assert isinstance(body["error"]["message"], str)
        else:
            assert set(body["error"]) == {"message", "type", "param", "code"}
            assert isinstance(body["error"]["message"], str)
    harness.services.records.write_pending()
    assert len(harness.sink.records) == records_before + 1
    line, _ = record_line(harness.sink.records[-1])
    assert json.loads(line)["id"] == response.headers["x-request-id"]
