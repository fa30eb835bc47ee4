"""The cache on `POST /v1/responses` (stateless requests only: `store` false): a failed answer
is never stored, and what the response object echoes or builds on is part of the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeHandler, FakeReply
from tests.unit.pipeline.app_harness import Gateway, open_gateway

CONFIG = """
[[providers]]
name = "oa"
type = "openai"
base_url = "http://oa.invalid/v1"
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
POLICY = '[cache]\nmode = "exact"\n'
REQUEST = {"model": "m", "input": "hi", "store": False}
USAGE = {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}


def response(body: dict[str, Any], status: str) -> dict[str, Any]:
    """The response object an upstream answers `body` with, echoing its metadata."""
    text: dict[str, Any] = {"type": "output_text", "text": "hi", "annotations": []}
    message: dict[str, Any] = {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "content": [text],
    }
    answer: dict[str, Any] = {
        "id": "resp_1",
        "object": "response",
        "status": status,
        "usage": USAGE,
    }
    answer |= {"metadata": body.get("metadata") or {}, "output": [message]}
    if status == "failed":
        answer |= {"output": [], "error": {"code": "server_error", "message": "boom"}}
    return answer


def upstream(status: str) -> FakeHandler:
    """An upstream whose answers end with `status` (a stream: `response.<status>`)."""

    def handler(request: UpstreamRequest) -> FakeReply:
        body = orjson.loads(request.body)
        answer = response(body, status)
        if not body.get("stream"):
            return FakeReply(200, {"content-type": "application/json"}, orjson.dumps(answer))
        created = {"type": "response.created", "response": {**answer, "status": "in_progress"}}
        final = {"type": f"response.{status}", "response": answer}
        events = [
            f"event: {event['type']}\ndata: ".encode() + orjson.dumps(event) + b"\n\n"
            for event in (created, final)
        ]
        return FakeReply(200, {"content-type": "text/event-stream"}, events)

    return handler


async def twice(gateway: Gateway, first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """`x-gateway-cache` of `first`, then (once its answer was stored, if it was) `second`."""
    results = []
    for body in (first, second):
        answer = await gateway.client.post("/v1/responses", json=body)
        assert answer.status_code == 200
        results.append(answer.headers["x-gateway-cache"])
        await gateway.background_done()
    return results


async def test_a_failed_answer_is_never_stored(tmp_path: Path) -> None:
    async with open_gateway(tmp_path, CONFIG, {"cached": POLICY}, upstream("failed")) as gateway:
        assert await twice(gateway, REQUEST, REQUEST) == ["miss", "miss"]
        streamed = {**REQUEST, "stream": True}
        assert await twice(gateway, streamed, streamed) == ["miss", "miss"]


async def test_completed_and_incomplete_answers_are_stored(tmp_path: Path) -> None:
    for status in ("completed", "incomplete"):
        root = tmp_path / status
        root.mkdir()
        async with open_gateway(root, CONFIG, {"cached": POLICY}, upstream(status)) as gateway:
            assert await twice(gateway, REQUEST, REQUEST) == ["miss", "hit"]
            streamed = {**REQUEST, "stream": True}
            assert await twice(gateway, streamed, streamed) == ["miss", "hit"]


async def test_a_request_in_a_conversation_is_never_answered_from_the_cache(
    tmp_path: Path,
) -> None:
    # The upstream puts the conversation's items ahead of the input: the same body, sent on
    # each turn, is another request each time.
    async with open_gateway(tmp_path, CONFIG, {"cached": POLICY}, upstream("completed")) as gateway:
        for conversation in ("conv_1", {"id": "conv_1"}):
            asked = {**REQUEST, "conversation": conversation}
            assert await twice(gateway, asked, asked) == ["bypass", "bypass"]


async def test_the_echoed_metadata_and_user_are_part_of_the_key(tmp_path: Path) -> None:
    # A response object echoes them: a hit must not hand one request's labels to another.
    async with open_gateway(tmp_path, CONFIG, {"cached": POLICY}, upstream("completed")) as gateway:
        for field, first, second in (("metadata", {"t": "A"}, {"t": "B"}), ("user", "a", "b")):
            body = {**REQUEST, "input": field}
            a, b = {**body, field: first}, {**body, field: second}
            assert await twice(gateway, a, b) == ["miss", "miss"]
            assert await twice(gateway, a, b) == ["hit", "hit"]
        hit = await gateway.client.post("/v1/responses", json={**REQUEST, "metadata": {"t": "B"}})
        assert hit.json()["metadata"] == {"t": "B"}
