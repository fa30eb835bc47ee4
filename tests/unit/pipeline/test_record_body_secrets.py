"""A record's bodies are scrubbed with the secrets of the config its request ran under: a key
rotated out by a reload while the request ran, echoed by the upstream, is scrubbed all the
same (the current config no longer knows it)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from gateway.runtime import build_runtime
from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.leaks import recoverable
from tests.unit.pipeline.app_harness import Gateway, open_gateway

OLD_KEY = "prov-old-9Qx7Lm2Zt4Wv8Rn"
CONFIG = """
[logging]
include_bodies = true

[[providers]]
name = "oai"
type = "openai"
base_url = "http://openai.invalid/v1"
api_key_env = "BODY_TEST_PROVIDER_KEY"

[[models]]
name = "chat"
[[models.deployments]]
provider = "oai"
model = "gpt-4o-mini"

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""


async def test_a_key_rotated_out_while_the_request_ran_is_scrubbed_from_its_bodies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BODY_TEST_PROVIDER_KEY", OLD_KEY)
    running: list[Gateway] = []

    def echo_headers(request: UpstreamRequest) -> FakeReply:
        services = running[0].services
        # A reload while the request runs: the new config's key is another one.
        services.runtime = build_runtime(services.runtime.config, {"BODY_TEST_PROVIDER_KEY": "x"})
        seen = request.headers["authorization"]
        answer = {
            "id": "c1",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            "debug": {"headers_seen": seen},
        }
        return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(answer))

    async with open_gateway(tmp_path, CONFIG, {}, echo_headers) as gateway:
        running.append(gateway)
        body = {"model": "chat", "messages": [{"role": "user", "content": f"mine: {OLD_KEY}"}]}
        answer = await gateway.client.post("/v1/chat/completions", json=body)
        assert answer.status_code == 200
        record = gateway.records()[-1]
    assert record["response"]["debug"]["headers_seen"] == "Bearer ****"
    assert not recoverable(json.dumps(record), OLD_KEY), record
