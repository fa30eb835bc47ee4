"""Which operation a request's span names: each endpoint kind that generates its GenAI
operation, and a request that generated nothing (`POST /v1/messages/count_tokens`) the HTTP
request it was, never a chat."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import orjson
import pytest

from gateway.observability.trace_context import TraceIds
from gateway.observability.tracing import OtlpTracer
from gateway.providers import EndpointKind
from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.unit.observability.test_tracing import RECORD, Held, tracer
from tests.unit.pipeline.app_harness import open_gateway

# Every endpoint kind: a new one fails here until someone says how its requests are traced.
OPERATIONS: dict[str, str | None] = {
    "chat": "chat",
    "messages": "chat",
    "responses": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
    "count_tokens": None,  # nothing generated: no GenAI operation
}


@pytest.mark.parametrize("kind", get_args(EndpointKind))
def test_each_kind_names_its_genai_operation_or_none(kind: str) -> None:
    held = Held()
    held.release.set()
    traced, _ = tracer(held)
    traced.export({**RECORD, "endpoint_kind": kind}, TraceIds(5, 6, None), [7], None)
    traced.shutdown()
    server = next(s for s in held.spans if s.parent is None)
    attributes = dict(server.attributes or {})
    operation = OPERATIONS[kind]
    if operation is None:  # the HTTP request it was, even on a route that names no template
        assert server.name == "POST" and attributes["http.request.method"] == "POST"
        assert not [a for s in held.spans for a in s.attributes or {} if a.startswith("gen_ai.")]
    else:
        assert server.name == f"{operation} gpt"
        assert attributes["gen_ai.operation.name"] == operation


CONFIG = """
[tracing]
endpoint = "http://127.0.0.1:9/v1/traces"

[[providers]]
name = "ant"
type = "anthropic"
base_url = "http://ant.invalid"
api_key_env = "SPAN_OPERATIONS_KEY"

[[models]]
name = "claude"
[[models.deployments]]
provider = "ant"
model = "claude-x"

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""


def counting(request: UpstreamRequest) -> FakeReply:
    return FakeReply(200, {"content-type": "application/json"}, [b'{"input_tokens": 5}'])


async def test_a_token_count_is_an_http_server_span_with_its_upstream_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPAN_OPERATIONS_KEY", "span-operations-test-credential")
    held = Held()
    held.release.set()
    body = {"model": "claude", "messages": [{"role": "user", "content": "count me"}]}
    async with open_gateway(tmp_path, CONFIG, {}, counting) as gateway:
        built = gateway.services.tracer
        assert isinstance(built, OtlpTracer)
        built.queue.exporter = held
        answer = await gateway.client.post("/v1/messages/count_tokens", json=body)
        assert answer.status_code == 200 and orjson.loads(answer.content) == {"input_tokens": 5}
        gateway.records()
    (server,) = [s for s in held.spans if s.parent is None]  # flushed at shutdown
    assert server.name == "POST /v1/messages/count_tokens"
    attributes = dict(server.attributes or {})
    assert attributes["http.route"] == "/v1/messages/count_tokens"
    assert attributes["http.response.status_code"] == 200
    (child,) = [s for s in held.spans if s is not server]  # the count asked of the deployment
    assert child.name == "POST"
    assert dict(child.attributes or {})["gateway.deployment"] == "ant/claude-x"
    assert not [a for s in held.spans for a in s.attributes or {} if a.startswith("gen_ai.")]
