"""`GET` / `DELETE /v1/responses/{id}` ask the deployment that made the response as the request
that made it asked: the provider's extra `headers` and `query` too."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import orjson
import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.services import Services
from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply, FakeUpstream
from tests.conditions import eventually
from tests.unit.http.fuzz_harness import FakeNetwork

CONFIG = f"""
[[providers]]
name = "oai"
type = "openai"
base_url = "http://upstream.invalid/v1?route=eu"
responses = true
headers = {{ "OpenAI-Project" = "proj_123" }}
headers_env = {{ "Ocp-Apim-Subscription-Key" = "APIM_KEY" }}
query = {{ tenant = "acme" }}

[[models]]
name = "gpt"
[[models.deployments]]
provider = "oai"
model = "m"

[[keys]]
id = "k"
key_sha256 = "{hashlib.sha256(b"sk-k").hexdigest()}"
"""
ENV = {"APIM_KEY": "apim-0123"}
RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "m",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "hi", "annotations": []}],
        }
    ],
    "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
}


async def test_a_stored_response_is_asked_with_the_providers_headers_and_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APIM_KEY", ENV["APIM_KEY"])
    (tmp_path / "config.toml").write_text(CONFIG)
    app = create_app(load_config(tmp_path / "config.toml", env=ENV), recorder=MemorySink())
    services: Services = app.state.services
    sent: list[UpstreamRequest] = []

    def answer(request: UpstreamRequest) -> FakeReply:
        sent.append(request)
        return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(RESPONSE))

    services.network = FakeNetwork(FakeUpstream(answer))  # type: ignore[assignment]
    transport = httpx.ASGITransport(app=app)
    auth = {"authorization": "Bearer sk-k"}
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        made = await client.post(
            "/v1/responses", json={"model": "gpt", "input": "hi"}, headers=auth
        )
        assert made.status_code == 200, made.text

        async def fetched() -> httpx.Response | None:  # remembered off the request path
            answer = await client.get("/v1/responses/resp_1", headers=auth)
            return answer if answer.status_code == 200 else None

        await eventually(fetched, 5, message="the stored response is fetched")
        deleted = await client.delete("/v1/responses/resp_1", headers=auth)
        assert deleted.status_code == 200, deleted.text
    create, fetch, delete = sent[0], sent[-2], sent[-1]
    assert create.url == "http://upstream.invalid/v1/responses?route=eu&tenant=acme"
    assert (fetch.method, fetch.url) == (
        "GET",
        "http://upstream.invalid/v1/responses/resp_1?route=eu&tenant=acme",
    )
    assert delete.method == "DELETE" and delete.url == fetch.url
    for request in (create, fetch, delete):
        assert request.headers.get("openai-project") == "proj_123", request.method
        assert request.headers.get("ocp-apim-subscription-key") == "apim-0123", request.method
    await asyncio.wait_for(services.aclose(), 10)
