"""`draft_first_call`: the upstream call made while Redis checks the limits is the call the
router would have built, and it is used only for the deployment it was made for."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from gateway.config import load_config
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.guard import guard_input
from gateway.routing.attempt import AttemptLimits, UpstreamCall, call_deployment, draft_first_call
from gateway.runtime import build_runtime
from gateway.upstream.base import UpstreamRequest
from gateway.upstream.http1 import encode_request
from tests.unit.upstream.test_http1 import answer, read_request, run, upstream

CONFIG = """
[[providers]]
name = "up"
type = "openai"
base_url = "{url}/v1"
api_key_env = "UP_KEY"

[[models]]
name = "one"
[[models.deployments]]
provider = "up"
model = "upstream-one"

[[models]]
name = "two"
[[models.deployments]]
provider = "up"
model = "upstream-two"
[[models.deployments]]
provider = "up"
model = "upstream-three"

[[keys]]
id = "k"
key_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
"""
BODY = {"model": "one", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 5}
LIMITS = AttemptLimits(first_byte_s=5.0, body_s=5.0)


def _context(tmp_path: Path, url: str, model: str) -> RequestContext:
    (tmp_path / "gateway.toml").write_text(CONFIG.format(url=url))
    env = {"UP_KEY": "sk-upstream"}
    runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=env), env=env)
    ctx = RequestContext(
        Endpoint("/v1/chat/completions", "chat", "openai"),
        runtime,
        "req_1",
        time.time(),
        time.monotonic(),
        {},
    )
    ctx.body = dict(BODY, model=model)
    ctx.model = runtime.config.models[model]
    return ctx


async def _serve_and_capture(tmp_path: Path, calls: list[tuple[str, str, bool]]) -> list[bytes]:
    """For each (model of the context, model whose first deployment is called, draft first?):
    what the upstream received."""
    received: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            received.append(head + body)
            writer.write(
                answer(b'{"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}')
            )
            await writer.drain()

    async with upstream(handler) as (client, url):
        services: Any = SimpleNamespace(client_for=lambda provider: client)
        for context_model, called_model, drafted in calls:
            ctx = _context(tmp_path, url, context_model)
            if drafted:
                draft_first_call(ctx)
                assert isinstance(ctx.upstream_draft, UpstreamCall)
            deployment = ctx.runtime.config.models[called_model].deployments[0]
            await call_deployment(
                ctx, services, ctx.runtime.config.models[called_model], deployment, LIMITS
            )
            assert ctx.upstream_draft is None  # used up (or dropped): a retry builds its own
            assert ctx.deployment is deployment and ctx.usage is not None
    return received


def test_a_drafted_call_sends_the_bytes_the_router_would_have_built(tmp_path: Path) -> None:
    drafted, built = run(
        _serve_and_capture(tmp_path, [("one", "one", True), ("one", "one", False)])
    )
    assert drafted == built
    assert b"authorization: Bearer sk-upstream" in drafted
    assert orjson.loads(drafted.split(b"\r\n\r\n", 1)[1])["model"] == "upstream-one"


def test_a_draft_for_another_deployment_is_not_used(tmp_path: Path) -> None:
    # A fallback, say: the draft was made for model "one", the router calls model "two".
    (sent,) = run(_serve_and_capture(tmp_path, [("one", "two", True)]))
    assert orjson.loads(sent.split(b"\r\n\r\n", 1)[1])["model"] == "upstream-two"


def test_only_a_model_with_one_deployment_gets_a_draft(tmp_path: Path) -> None:
    ctx = _context(tmp_path, "http://127.0.0.1:9", "two")
    draft_first_call(ctx)
    assert ctx.upstream_draft is None
    ctx = _context(tmp_path, "http://127.0.0.1:9", "one")
    draft_first_call(ctx)
    assert isinstance(ctx.upstream_draft, UpstreamCall) and ctx.upstream_draft.encoded is not None
    assert b"sk-upstream" in ctx.upstream_draft.encoded
    assert "sk-upstream" not in repr(ctx) and "sk-upstream" not in repr(
        ctx.upstream_draft
    )  # secrets stay out


def test_a_draft_is_dropped_when_input_guards_may_rewrite_the_body(tmp_path: Path) -> None:
    ctx = _context(tmp_path, "http://127.0.0.1:9", "one")
    ctx.key = ctx.runtime.config.keys[0]
    draft_first_call(ctx)
    assert ctx.upstream_draft is not None
    guards = SimpleNamespace(input=("a guard",), restores=False)
    ctx.runtime = SimpleNamespace(guardrails={ctx.key.policy: guards})  # type: ignore[assignment]
    ctx.body = {"model": "one", "messages": []}  # nothing to scan: only the drop is exercised
    run(guard_input(ctx, SimpleNamespace()))  # type: ignore[arg-type]
    assert ctx.upstream_draft is None


def test_the_network_client_writes_an_encoded_request_as_it_is() -> None:
    received: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, body = await read_request(reader)
        received.append(head + body)
        writer.write(answer(b"{}"))
        await writer.drain()

    async def main() -> None:
        async with upstream(handler) as (client, url):
            encoded = encode_request("POST", url + "/v1/other", {"x-drafted": "yes"}, b"[]")
            request = UpstreamRequest(
                "POST", url + "/v1/chat/completions", {}, b"{}", encoded=encoded
            )
            response = await client.send(request)
            assert await response.read() == b"{}"
            assert received == [encoded]

    run(main())
