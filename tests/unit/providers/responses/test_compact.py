"""A conversation's compaction: `POST /v1/responses/compact` passed through to an upstream with
the Responses API (its `responses/compact` operation: OpenAI's, Azure's); made by the gateway
for the others (a summary asked of the model, answered as the `compaction` item), as is a
`/v1/responses` input ending with `compaction_trigger`; the gateway's `compaction` item read
back as the summary it holds, by every deployment."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import UpstreamStreamError
from gateway.json_types import JSON
from gateway.providers import adapter_for, compacts_upstream
from gateway.providers.responses.compaction import (
    SUMMARY_HEADING,
    SUMMARY_REQUEST,
    compaction_item,
    compaction_summary,
)
from gateway.sse import SSEDecoder, encode_event

BODY = {"model": "gpt", "input": [{"role": "user", "content": "Hi"}]}
VLLM = ProviderConfig(name="vllm", type="openai", base_url="http://vllm:8000/v1")
CLAUDE = ProviderConfig(name="ant", type="anthropic", base_url="https://api.anthropic.com")
OPENAI = ProviderConfig(name="oai", type="openai", base_url="https://api.openai.com/v1")
TOOLS = [{"type": "function", "name": "shell", "parameters": {"type": "object"}}]
HISTORY: list[Any] = [
    {"role": "user", "content": "Fix the build."},
    {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": '{"cmd":"make"}'},
    {"type": "function_call_output", "call_id": "c1", "output": "error: x.c:3"},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Go on."}]},
]
TRIGGERED: JSON = {"model": "m", "input": [*HISTORY, {"type": "compaction_trigger"}]}


def _deployment(provider: ProviderConfig, model: str = "up") -> DeploymentConfig:
    return DeploymentConfig(provider=provider.name, model=model)


def _upstream(body: JSON, provider: ProviderConfig, operation: str = "") -> tuple[str, Any]:
    adapter = adapter_for("responses", provider, None, body, operation=operation)
    call = adapter.prepare(body, _deployment(provider), provider, "k")
    return call.url, orjson.loads(call.body)


def _chat_answer(text: str) -> bytes:
    message = {"role": "assistant", "content": text}
    usage = {"prompt_tokens": 90, "completion_tokens": 12}
    return orjson.dumps({"choices": [{"index": 0, "message": message}], "usage": usage})


def test_a_compaction_goes_to_the_upstreams_compact_operation() -> None:
    url, body = _upstream(BODY, OPENAI, "responses/compact")
    assert url == "https://api.openai.com/v1/responses/compact" and body["model"] == "up"
    azure = ProviderConfig(
        name="az",
        type="azure",
        base_url="https://r.openai.azure.com",
        api_version="2025-04-01-preview",
        responses=True,
    )
    assert _upstream(BODY, azure, "responses/compact")[0] == (
        "https://r.openai.azure.com/openai/responses/compact?api-version=2025-04-01-preview"
    )


def test_a_chat_upstream_is_asked_for_a_summary_without_tool_calls() -> None:
    body = {**TRIGGERED, "tools": TOOLS, "tool_choice": "required"}
    url, chat = _upstream(body, VLLM)
    assert url == "http://vllm:8000/v1/chat/completions"
    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["user", "assistant", "tool", "user", "user"]
    assert chat["messages"][-1]["content"] == [{"type": "text", "text": SUMMARY_REQUEST}]
    assert chat["tool_choice"] == "none" and chat["tools"][0]["function"]["name"] == "shell"
    # The endpoint's way, the same request.
    endpoint_body = {**body, "input": HISTORY}
    assert _upstream(endpoint_body, VLLM, "responses/compact")[1]["messages"] == chat["messages"]


def test_claude_is_asked_too_with_the_tools_its_history_needs() -> None:
    url, message = _upstream({**TRIGGERED, "tools": TOOLS}, CLAUDE)
    assert url == "https://api.anthropic.com/v1/messages"
    assert message["tool_choice"] == {"type": "none"} and message["tools"][0]["name"] == "shell"
    last = message["messages"][-1]
    assert last["role"] == "user" and last["content"][-1]["text"] == SUMMARY_REQUEST


def test_the_compact_endpoints_answer_is_the_user_messages_and_the_summary() -> None:
    body = {"model": "m", "input": HISTORY}
    adapter = adapter_for("responses", VLLM, None, body, operation="responses/compact")
    _, usage, answer = adapter.convert_json(_chat_answer("We fixed x.c."))
    assert answer["object"] == "response.compaction" and answer["id"].startswith("cmp_")
    *users, compaction = answer["output"]
    assert [u["content"][0]["text"] for u in users] == ["Fix the build.", "Go on."]
    assert compaction["type"] == "compaction"
    assert compaction_summary(compaction) == "We fixed x.c."
    assert answer["usage"]["input_tokens"] == 90 and usage.completion_tokens == 12


def test_a_triggered_response_is_the_one_compaction_item() -> None:
    adapter = adapter_for("responses", VLLM, None, TRIGGERED)
    _, _, response = adapter.convert_json(_chat_answer("Summary."))
    assert response["object"] == "response" and response["status"] == "completed"
    [item] = response["output"]
    assert item["type"] == "compaction" and compaction_summary(item) == "Summary."


# The events of a compaction's stream, as OpenAI's compaction streams them.
COMPACTION_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.output_item.done",
    "response.completed",
]


def _events(raw: bytes) -> list[JSON]:
    return [orjson.loads(event.data) for event in SSEDecoder().feed(raw)]


def test_a_triggered_stream_sends_the_one_item_at_the_end() -> None:
    body = {**TRIGGERED, "stream": True}
    adapter = adapter_for("responses", VLLM, None, body)
    stream = adapter.stream(body)
    chunks = [
        {"id": "c", "choices": [{"index": 0, "delta": {"reasoning_content": "hm"}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {"content": "We fixed "}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {"content": "x.c."}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 90, "completion_tokens": 3}},
    ]
    raw = b"".join(encode_event(orjson.dumps(c)) for c in chunks) + b"data: [DONE]\n\n"
    events = _events(b"".join(stream.feed(raw) + stream.finish()))
    # A summary cut short is still the compaction, `completed` (Codex takes nothing else).
    assert [e["type"] for e in events] == COMPACTION_EVENTS
    assert [e["sequence_number"] for e in events] == [0, 1, 2, 3, 4]
    done = events[3]["item"]
    assert done["type"] == "compaction" and compaction_summary(done) == "We fixed x.c."
    assert events[-1]["response"]["output"] == [done]
    assert events[-1]["response"]["usage"]["input_tokens"] == 90
    assert stream.usage is not None and stream.usage.completion_tokens == 3


def test_a_triggered_stream_from_claude() -> None:
    body = {**TRIGGERED, "stream": True}
    stream = adapter_for("responses", CLAUDE, None, body).stream(body)
    anthropic: list[JSON] = [
        {"type": "message_start", "message": {"id": "m", "model": "claude", "content": [],
                                              "usage": {"input_tokens": 80, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "S."}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]  # fmt: skip
    raw = b"".join(encode_event(orjson.dumps(e), str(e["type"])) for e in anthropic)
    events = _events(b"".join(stream.feed(raw) + stream.finish()))
    items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [compaction_summary(i) for i in items] == ["S."]
    assert stream.usage is not None and stream.usage.prompt_tokens == 80


@pytest.mark.parametrize("provider", [VLLM, CLAUDE])
def test_a_later_request_reads_the_summary_back(provider: ProviderConfig) -> None:
    ours = compaction_item("We fixed x.c.")
    theirs = {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAAB-openai"}
    later = {"model": "m", "input": [theirs, HISTORY[0], ours, {"role": "user", "content": "?"}]}
    _, upstream = _upstream(later, provider)
    sent = orjson.dumps(upstream["messages"]).decode()
    assert sent.count(orjson.dumps(SUMMARY_HEADING + "We fixed x.c.").decode()[1:-1]) == 1
    assert "gAAAAB" not in sent  # OpenAI's: for OpenAI only


def test_an_upstream_with_the_responses_api_gets_the_gateways_summary_as_a_message() -> None:
    ours = compaction_item("Earlier: x.c.")
    theirs = {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAAB-openai"}
    later = {"model": "m", "input": [theirs, ours, {"role": "user", "content": "?"}]}
    for operation in ("", "responses/compact"):
        _, upstream = _upstream(later, OPENAI, operation)
        assert upstream["input"][0] == theirs
        assert upstream["input"][1] == {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": SUMMARY_HEADING + "Earlier: x.c."}],
        }
    # Without one, the body passes as it was.
    _, plain = _upstream({"model": "m", "input": [theirs]}, OPENAI)
    assert plain["input"] == [theirs]


def test_a_forged_or_damaged_gateway_item_is_not_ours() -> None:
    item = compaction_item("ok")
    damaged = {**item, "encrypted_content": item["encrypted_content"] + "!"}
    assert compaction_summary(damaged) is None
    assert compaction_summary({"type": "compaction"}) is None


# A Responses server that does not compact (vLLM, Ollama ...): the gateway's way, on its
# /responses; unless the provider says it does.
VLLM_RESPONSES = ProviderConfig(
    name="vr", type="openai", base_url="http://vllm:8000/v1", responses=True
)
COMPACTING = ProviderConfig(
    name="cr", type="openai", base_url="http://vllm:8000/v1", responses=True, compaction="upstream"
)


def _responses_answer(text: str) -> bytes:
    message = {"type": "message", "role": "assistant", "content": [
        {"type": "output_text", "text": text}]}  # fmt: skip
    usage = {"input_tokens": 90, "output_tokens": 12, "total_tokens": 102}
    return orjson.dumps({"id": "resp_up", "object": "response", "status": "completed",
                         "model": "up", "output": [message], "usage": usage})  # fmt: skip


def test_which_providers_compact_themselves() -> None:
    assert compacts_upstream(OPENAI) and compacts_upstream(COMPACTING)
    azure = ProviderConfig(name="az", type="azure", base_url="https://r.openai.azure.com",
                           api_version="2025-04-01-preview", responses=True)  # fmt: skip
    assert compacts_upstream(azure)
    assert not compacts_upstream(VLLM_RESPONSES) and not compacts_upstream(VLLM)
    assert not compacts_upstream(CLAUDE)


def test_a_responses_server_that_does_not_compact_is_asked_for_a_summary() -> None:
    url, upstream = _upstream(TRIGGERED, VLLM_RESPONSES)
    assert url == "http://vllm:8000/v1/responses"
    assert upstream["input"][-1]["content"][0]["text"] == SUMMARY_REQUEST
    assert all(item.get("type") != "compaction_trigger" for item in upstream["input"])
    endpoint_body = {"model": "m", "input": HISTORY}
    url, upstream = _upstream(endpoint_body, VLLM_RESPONSES, "responses/compact")
    assert url == "http://vllm:8000/v1/responses"  # (it has no compact route)
    # One that compacts gets the trigger, and its compact route.
    assert _upstream(TRIGGERED, COMPACTING)[1]["input"][-1] == {"type": "compaction_trigger"}
    assert _upstream(endpoint_body, COMPACTING, "responses/compact")[0].endswith("/compact")


def test_its_answer_is_the_compaction() -> None:
    adapter = adapter_for("responses", VLLM_RESPONSES, None, TRIGGERED)
    _, usage, response = adapter.convert_json(_responses_answer("Summary."))
    [item] = response["output"]
    assert compaction_summary(item) == "Summary." and usage.prompt_tokens == 90
    body = {"model": "m", "input": HISTORY}
    endpoint = adapter_for("responses", VLLM_RESPONSES, None, body, operation="responses/compact")
    _, _, answer = endpoint.convert_json(_responses_answer("Summary."))
    assert answer["object"] == "response.compaction" and len(answer["output"]) == 3


def test_its_stream_is_the_compactions() -> None:
    body = {**TRIGGERED, "stream": True}
    stream = adapter_for("responses", VLLM_RESPONSES, None, body).stream(body)
    final = orjson.loads(_responses_answer("We fixed x.c."))
    upstream = [
        {"type": "response.created", "sequence_number": 0, "response": {**final, "output": []}},
        {"type": "response.output_text.delta", "sequence_number": 1, "delta": "We fixed x.c."},
        {"type": "response.completed", "sequence_number": 2, "response": final},
    ]
    raw = b"".join(encode_event(orjson.dumps(e), str(e["type"])) for e in upstream)
    events = _events(b"".join(stream.feed(raw) + stream.finish()))
    assert [e["type"] for e in events] == COMPACTION_EVENTS
    assert compaction_summary(events[3]["item"]) == "We fixed x.c."
    assert events[-1]["response"]["usage"]["input_tokens"] == 90
    assert stream.usage is not None and stream.usage.completion_tokens == 12


def test_its_failed_stream_is_the_streams_error() -> None:
    body = {**TRIGGERED, "stream": True}
    stream = adapter_for("responses", VLLM_RESPONSES, None, body).stream(body)
    failed = {"type": "response.failed", "sequence_number": 0,
              "response": {"status": "failed", "error": {"code": "server_error",
                                                          "message": "boom"}}}  # fmt: skip
    opening = stream.feed(encode_event(orjson.dumps(failed), "response.failed"))
    assert [e["type"] for e in _events(b"".join(opening))] == [
        "response.created",
        "response.in_progress",
    ]
    with pytest.raises(UpstreamStreamError, match="boom"):
        stream.finish()
