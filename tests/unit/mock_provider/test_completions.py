"""Legacy text completions in the mock provider: the plan, and the handler's JSON and stream."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from gateway import tokens
from gateway.mock_provider.behaviour import RequestError
from gateway.mock_provider.completions import plan_completion
from gateway.mock_provider.handler import MockConnectionDrop, MockHandler
from gateway.sse import SSEDecoder

COMPLETIONS = "/v1/completions"


def completion(model: str = "mock-small", **extra: Any) -> bytes:
    return orjson.dumps({"model": model, "prompt": "Once upon a time", **extra})


async def reply_body(handler: MockHandler, body: bytes) -> tuple[int, bytes]:
    reply = await handler.handle("POST", COMPLETIONS, {}, body)
    return reply.status, b"".join([piece async for piece in reply.body])


def test_echo_repeats_the_prompt_and_counts_it() -> None:
    plan = plan_completion({"model": "echo", "prompt": "repeat me"})
    assert [c.text for c in plan.choices] == ["repeat me"]
    assert plan.prompt_tokens == tokens.count_text("repeat me")


def test_each_prompt_of_a_list_gets_n_choices() -> None:
    plan = plan_completion({"model": "echo", "prompt": ["a", "b"], "n": 2})
    assert [c.text for c in plan.choices] == ["a", "a", "b", "b"]
    assert plan_completion({"model": "m", "prompt": [1, 2, 3]}).prompt_tokens == 3


def test_a_prompt_of_another_type_is_refused() -> None:
    with pytest.raises(RequestError):
        plan_completion({"model": "m", "prompt": {"text": "x"}})


async def test_json_answer_is_a_text_completion() -> None:
    status, body = await reply_body(MockHandler(), completion(max_tokens=5))
    data = json.loads(body)
    assert status == 200
    assert data["object"] == "text_completion" and data["id"].startswith("cmpl-mock")
    choice = data["choices"][0]
    assert choice["finish_reason"] == "length" and tokens.count_text(choice["text"]) <= 5
    assert data["usage"]["completion_tokens"] == tokens.count_text(choice["text"])


async def test_stream_sends_the_same_text_then_usage_and_done() -> None:
    handler = MockHandler()
    _, whole = await reply_body(handler, completion())
    options = {"include_usage": True}
    _, raw = await reply_body(handler, completion(stream=True, stream_options=options))
    events = [e.data for e in SSEDecoder().feed(raw)]
    assert events[-1] == b"[DONE]"
    chunks = [json.loads(data) for data in events[:-1]]
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    assert text == json.loads(whole)["choices"][0]["text"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert all(c["object"] == "text_completion" for c in chunks)


async def test_fault_models_apply_to_completions() -> None:
    handler = MockHandler()
    status, _ = await reply_body(handler, completion("fail-500"))
    assert status == 500
    reply = await handler.handle(
        "POST", COMPLETIONS, {}, completion("drop-mid-stream", stream=True)
    )
    with pytest.raises(MockConnectionDrop):
        async for _ in reply.body:
            pass
