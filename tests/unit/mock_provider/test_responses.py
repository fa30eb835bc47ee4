"""The mock provider's Responses API: JSON, the event stream, faults, and the store behind
`previous_response_id`, `GET` and `DELETE /v1/responses/{id}`."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.mock_provider.behaviour import RequestError
from gateway.mock_provider.handler import MockConnectionDrop, MockHandler
from gateway.mock_provider.responses_reasoning import check_tools_with_reasoning
from tests.unit.mock_provider.test_handler import body_of, events, pieces_of

RESPONSES = "/v1/responses"


def request(model: str = "mock-small", **extra: Any) -> bytes:
    return orjson.dumps({"model": model, "input": "hi", **extra})


async def call(handler: MockHandler, method: str, path: str, body: bytes = b"") -> Any:
    reply = await handler.handle(method, path, {}, body)
    return reply.status, orjson.loads(await body_of(reply))


async def test_json_answer_matches_chat_and_is_remembered() -> None:
    handler = MockHandler()
    status, response = await call(handler, "POST", RESPONSES, request(instructions="brief"))
    assert status == 200 and response["object"] == "response"
    assert response["id"].startswith("resp_mock") and response["instructions"] == "brief"
    assert response["output"][0]["content"][0]["text"]
    assert response["usage"]["output_tokens"] > 0
    chat = orjson.dumps(
        {
            "model": "mock-small",
            "messages": [{"role": "system", "content": "brief"}, {"role": "user", "content": "hi"}],
        }
    )
    _, completion = await call(handler, "POST", "/v1/chat/completions", chat)
    assert (
        completion["choices"][0]["message"]["content"]
        == response["output"][0]["content"][0]["text"]
    )
    assert await call(handler, "GET", f"{RESPONSES}/{response['id']}") == (200, response)
    again = request(previous_response_id=response["id"])
    status, follow_up = await call(handler, "POST", RESPONSES, again)
    assert status == 200 and follow_up["previous_response_id"] == response["id"]
    assert follow_up["id"] != response["id"]
    deleted = {"id": response["id"], "object": "response", "deleted": True}
    assert await call(handler, "DELETE", f"{RESPONSES}/{response['id']}") == (200, deleted)
    status, error = await call(handler, "POST", RESPONSES, again)
    assert status == 400 and error["error"]["code"] == "previous_response_not_found"
    assert error["error"]["param"] == "previous_response_id"


async def test_store_false_is_not_remembered() -> None:
    handler = MockHandler()
    _, response = await call(handler, "POST", RESPONSES, request(store=False))
    status, error = await call(handler, "GET", f"{RESPONSES}/{response['id']}")
    assert status == 404 and error["error"]["code"] == "not_found"


async def test_stream_events_and_tool_call() -> None:
    tool = {
        "type": "function",
        "name": "f",
        "parameters": {"type": "object", "properties": {"a": {"type": "string"}}},
    }
    handler = MockHandler()
    reply = await handler.handle("POST", RESPONSES, {}, request(stream=True, tools=[tool]))
    parsed = events(await body_of(reply))
    kinds = [name for name, _ in parsed]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-2:] == ["response.output_item.done", "response.completed"]
    assert all(name == data["type"] for name, data in parsed)
    arguments = "".join(
        d["delta"] for n, d in parsed if n == "response.function_call_arguments.delta"
    )
    assert orjson.loads(arguments) == {"a": "test"}
    final = parsed[-1][1]["response"]
    assert final["usage"]["input_tokens"] > 0 and final["output"][0]["call_id"]
    status, stored = await call(handler, "GET", f"{RESPONSES}/{final['id']}")
    assert status == 200 and stored["output"] == final["output"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_custom_tool_is_called_as_one(stream: bool) -> None:
    # As OpenAI answers Codex's apply_patch: a custom_tool_call whose input is text.
    tool = {"type": "custom", "name": "apply_patch", "description": "Edit files"}
    body = request(stream=stream, tools=[tool])
    reply = await MockHandler().handle("POST", RESPONSES, {}, body)
    if stream:
        parsed = events(await body_of(reply))
        assert "response.custom_tool_call_input.done" in [name for name, _ in parsed]
        response = parsed[-1][1]["response"]
    else:
        response = orjson.loads(await body_of(reply))
    [item] = response["output"]
    assert item["type"] == "custom_tool_call" and item["name"] == "apply_patch"
    assert item["input"] == "test" and item["call_id"].startswith("call_mock")


async def test_text_stream_is_paced_per_word_and_max_output_tokens_cuts() -> None:
    reply = await MockHandler().handle("POST", RESPONSES, {}, request(stream=True))
    assert len(await pieces_of(reply)) == 20
    _, response = await call(MockHandler(), "POST", RESPONSES, request(max_output_tokens=16))
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    # Below OpenAI's least, refused as OpenAI refuses it.
    status, refused = await call(MockHandler(), "POST", RESPONSES, request(max_output_tokens=1))
    assert status == 400 and refused["error"]["code"] == "integer_below_min_value"
    assert refused["error"]["param"] == "max_output_tokens"


async def test_faults() -> None:
    handler = MockHandler()
    status, error = await call(handler, "POST", RESPONSES, request("fail-500"))
    assert status == 500 and error["error"]["type"] == "server_error"
    reply = await handler.handle("POST", RESPONSES, {}, request("drop-mid-stream", stream=True))
    with pytest.raises(MockConnectionDrop):
        await body_of(reply)
    status, error = await call(handler, "POST", RESPONSES, orjson.dumps({"model": "m"}))
    assert status == 400 and error["error"]["param"] == "input"


async def test_a_responses_only_model_is_refused_on_chat_as_openai_refuses_it() -> None:
    handler = MockHandler()
    chat = orjson.dumps({"model": "gpt-5.1-codex", "messages": [{"role": "user", "content": "hi"}]})
    status, error = await call(handler, "POST", "/v1/chat/completions", chat)
    assert status == 404 and error["error"]["param"] == "model"
    assert error["error"]["message"].startswith("This model is only supported in v1/responses")
    status, response = await call(handler, "POST", RESPONSES, request("gpt-5.1-codex"))
    assert status == 200 and response["output"][0]["type"] == "message"


@pytest.mark.parametrize("stream", [False, True])
async def test_a_reasoning_model_answers_its_encrypted_reasoning(stream: bool) -> None:
    # As OpenAI's reasoning models answer a request with `store: false` that includes it.
    include = ["reasoning.encrypted_content"]
    asked = request("gpt-5.1-codex", stream=stream, include=include, reasoning={"summary": "auto"})
    handler = MockHandler()
    reply = await handler.handle("POST", RESPONSES, {}, asked)
    if stream:
        parsed = events(await body_of(reply))
        kinds = [name for name, _ in parsed]
        assert kinds[2:8] == [
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
        ]
        response = parsed[-1][1]["response"]
        assert [item["output_index"] for _, item in parsed[2:8]] == [0] * 6
    else:
        response = orjson.loads(await body_of(reply))
    thought, message = response["output"]
    assert thought["type"] == "reasoning" and thought["summary"][0]["text"]
    assert message["type"] == "message"
    # Sent back, it is taken; changed (another organisation's), refused as OpenAI refuses it.
    back = {"type": "reasoning", "summary": [], "encrypted_content": thought["encrypted_content"]}
    then = [{"role": "user", "content": "hi"}, back, {"role": "user", "content": "and?"}]
    status, _ = await call(handler, "POST", RESPONSES, request("gpt-5.1-codex", input=then))
    assert status == 200
    changed = {**back, "encrypted_content": "Z0FBQUFB"}
    status, refused = await call(
        handler, "POST", RESPONSES, request("gpt-5.1-codex", input=[*then[:1], changed])
    )
    assert status == 400 and "could not be verified" in refused["error"]["message"]


async def test_a_model_that_does_not_reason_refuses_the_encrypted_reasoning() -> None:
    body = request("gpt-4.1", include=["reasoning.encrypted_content"])
    status, refused = await call(MockHandler(), "POST", RESPONSES, body)
    assert status == 400 and refused["error"]["param"] == "include"
    assert refused["error"]["message"] == "Encrypted content is not supported with this model."
    # Not asked for, no reasoning item.
    status, plain = await call(MockHandler(), "POST", RESPONSES, request("gpt-5.1-codex"))
    assert status == 200 and [item["type"] for item in plain["output"]] == ["message"]


async def test_a_compaction_is_the_user_messages_and_one_compaction_item() -> None:
    handler = MockHandler()
    history = [
        {"role": "user", "content": "Sea?"},
        {"role": "assistant", "content": "Waves."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hills?"}]},
    ]
    body = request("gpt-5.1-codex", input=history)
    status, compacted = await call(handler, "POST", f"{RESPONSES}/compact", body)
    assert status == 200 and compacted["object"] == "response.compaction"
    *users, compaction = compacted["output"]
    assert [u["content"][0]["text"] for u in users] == ["Sea?", "Hills?"]
    assert compaction["type"] == "compaction" and compacted["usage"]["input_tokens"] > 0
    # Its window is a later request's input; a compaction the mock did not make is refused.
    later = [*compacted["output"], {"role": "user", "content": "More?"}]
    status, _ = await call(handler, "POST", RESPONSES, request("gpt-5.1-codex", input=later))
    assert status == 200
    forged = [{**compaction, "encrypted_content": "Z0FBQUFB"}, {"role": "user", "content": "?"}]
    status, refused = await call(handler, "POST", RESPONSES, request("m", input=forged))
    assert status == 400 and "could not be verified" in refused["error"]["message"]


async def test_a_compaction_trigger_is_answered_by_the_one_compaction_item() -> None:
    handler = MockHandler()
    history = [{"role": "user", "content": "Sea?"}, {"type": "compaction_trigger"}]
    status, response = await call(handler, "POST", RESPONSES, request(input=history))
    assert status == 200 and [item["type"] for item in response["output"]] == ["compaction"]
    reply = await handler.handle("POST", RESPONSES, {}, request(input=history, stream=True))
    parsed = [data for _, data in events(await body_of(reply))]
    assert [e["type"] for e in parsed] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    assert parsed[3]["item"] == response["output"][0]  # the same conversation, the same state
    # Taken back as the mock's own.
    later = [parsed[3]["item"], {"role": "user", "content": "More?"}]
    status, answer = await call(handler, "POST", RESPONSES, request(input=later))
    assert status == 200 and answer["output"][0]["type"] == "message"


@pytest.mark.parametrize(
    ("model", "effort", "refused"),
    [
        ("gpt-5.6-sol", "high", True),
        ("gpt-5.6-terra", "low", True),
        ("gpt-5.6-sol", "none", False),
        ("gpt-5.6-sol", None, False),
        ("gpt-5.5", "high", False),
    ],
)
def test_gpt_5_6_takes_function_tools_with_reasoning_on_responses_only(
    model: str, effort: str | None, refused: bool
) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    body["tools"] = tools
    if effort is not None:
        body["reasoning_effort"] = effort
    if refused:
        with pytest.raises(RequestError, match="Please use /v1/responses instead.") as error:
            check_tools_with_reasoning(body)
        assert model in str(error.value) and error.value.param == "reasoning_effort"
    else:
        check_tools_with_reasoning(body)
    check_tools_with_reasoning({**body, "tools": []})  # no tools: chat takes the effort
