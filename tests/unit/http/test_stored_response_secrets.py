"""`GET /v1/responses/{id}` relays what the deployment that made the response answers: an
error whose text quotes the credentials it was sent reaches the client scrubbed as any error
text is (the key and credential shapes), an answer with the key echoed without the key."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.conditions import eventually
from tests.unit.pipeline.app_harness import open_gateway

PROVIDER_KEY = "sk-proj-storedsecret0123456789abcdef"
CONFIG = """
[[providers]]
name = "oai"
type = "openai"
base_url = "http://upstream.invalid/v1"
api_key_env = "STORED_SECRETS_KEY"
responses = true

[[models]]
name = "gpt"
[[models.deployments]]
provider = "oai"
model = "m"

[[keys]]
id = "k"
key_sha256 = "{digest}"
"""
RESPONSE = {"id": "resp_1", "object": "response", "status": "completed", "output": []}
USAGE = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORED_SECRETS_KEY", PROVIDER_KEY)


@pytest.mark.parametrize("status", [401, 200])
async def test_a_fetched_response_holds_no_key(tmp_path: Path, status: int) -> None:
    def handler(request: UpstreamRequest) -> FakeReply:
        if request.method == "POST":
            made = orjson.dumps({**RESPONSE, "usage": USAGE})
            return FakeReply(200, {"content-type": "application/json"}, [made])
        sent = request.headers["authorization"]
        if status == 401:
            text = f"Incorrect API key provided: {sent}; old one Bearer sk-old0123456789"
            body = orjson.dumps({"error": {"message": text, "type": "invalid_request_error"}})
        else:
            body = orjson.dumps({**RESPONSE, "metadata": {"seen": sent}, "usage": USAGE})
        return FakeReply(status, {"content-type": "application/json"}, [body])

    async with open_gateway(tmp_path, CONFIG, {}, handler) as gateway:
        made = await gateway.client.post("/v1/responses", json={"model": "gpt", "input": "hi"})
        assert made.status_code == 200, made.text

        async def fetched() -> httpx.Response | None:  # remembered off the request path
            answer = await gateway.client.get("/v1/responses/resp_1")
            return answer if answer.status_code == status else None

        answer = await eventually(fetched, 5, message="the stored response is fetched")
    assert PROVIDER_KEY.encode() not in answer.content
    assert int(answer.headers["content-length"]) == len(answer.content)
    if status == 401:
        assert answer.json()["error"]["message"] == (
            "Incorrect API key provided: Bearer ****; old one Bearer ****"
        )
    else:
        assert answer.json()["metadata"] == {"seen": "Bearer ****"}
