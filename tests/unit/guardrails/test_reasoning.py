"""Reasoning text is answer text: output guardrails read `reasoning_content` / `reasoning`
(OpenAI-compatible servers), Anthropic `thinking` blocks and Responses API reasoning items, in
JSON answers and in streams cut anywhere; input guardrails read them in the history."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.bodies import input_groups, output_groups
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard import _apply
from gateway.pipeline.services import Services
from gateway.sse import SSEDecoder, encode_event
from tests.unit.guardrails.test_stream import Passthrough

EMAIL = "jane.doe@example.org"
THOUGHT = f"The user is {EMAIL}, so I will greet her."


@pytest.fixture
def pii(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(GuardrailConfig(name="pii", type="pii", applies_to="both", action="redact"))


def apply(groups: list[list[Any]], guards: GuardrailSet, stage: str) -> None:
    ctx = cast(RequestContext, SimpleNamespace(guardrails=[]))
    found = guards.input if stage == "input" else guards.output
    asyncio.run(_apply(found, groups, stage, ctx, cast(Services, None), None))


def test_chat_answer_reasoning_fields_are_redacted(pii: GuardrailSet) -> None:
    answer: dict[str, Any] = {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi!", "reasoning_content": THOUGHT},
            },
            {"index": 1, "message": {"role": "assistant", "content": "Hi!", "reasoning": THOUGHT}},
        ],
    }
    apply(output_groups(answer, "openai"), pii, "output")
    assert EMAIL not in orjson.dumps(answer).decode()
    assert (
        answer["choices"][1]["message"]["reasoning"]
        == "The user is <EMAIL_ADDRESS>, so I will greet her."
    )


def test_anthropic_thinking_is_redacted_and_keeps_its_signature(pii: GuardrailSet) -> None:
    answer: dict[str, Any] = {
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": THOUGHT, "signature": "c2ln"},
            {"type": "redacted_thinking", "data": "b3BhcXVl"},
            {"type": "text", "text": "Hi!"},
        ],
    }
    apply(output_groups(answer, "anthropic"), pii, "output")
    thinking, opaque, _ = answer["content"]
    assert thinking == {
        "type": "thinking",
        "thinking": "The user is <EMAIL_ADDRESS>, so I will greet her.",
        "signature": "c2ln",
    }
    assert opaque == {"type": "redacted_thinking", "data": "b3BhcXVl"}


def test_responses_reasoning_items_are_redacted(pii: GuardrailSet) -> None:
    item = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": THOUGHT}],
        "content": [{"type": "reasoning_text", "text": THOUGHT}],
    }
    answer: dict[str, Any] = {"object": "response", "output": [item]}
    apply(output_groups(answer, "openai"), pii, "output")
    assert EMAIL not in orjson.dumps(answer).decode()


def test_history_reasoning_is_read_by_input_guardrails(pii: GuardrailSet) -> None:
    chat: dict[str, Any] = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hi!", "reasoning_content": THOUGHT},
        ]
    }
    messages: dict[str, Any] = {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": THOUGHT, "signature": "s"}],
            },
        ]
    }
    responses: dict[str, Any] = {
        "input": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": THOUGHT}]}]
    }
    for body, kind in ((chat, "chat"), (messages, "messages"), (responses, "responses")):
        apply(input_groups(body, kind), pii, "input")
        assert EMAIL not in orjson.dumps(body).decode(), kind


# -- streams, cut at every character ------------------------------------------------------


def run(converter: GuardedConverter, events: list[bytes]) -> list[dict[str, Any]]:
    out: list[bytes] = []
    for event in events:
        out += converter.feed(event)
    out += converter.finish()
    return [
        orjson.loads(e.data) for e in SSEDecoder().feed(b"".join(out)) if e.data.startswith(b"{")
    ]


def openai_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return encode_event(
        orjson.dumps({"id": "c", "object": "chat.completion.chunk", "choices": [choice]})
    )


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_openai_stream_reasoning_is_redacted(pii: GuardrailSet, field: str) -> None:
    events = [openai_chunk({"role": "assistant", field: ""})]
    events += [openai_chunk({field: c}) for c in THOUGHT]
    events += [openai_chunk({"content": c}) for c in "Hi!"]
    events += [openai_chunk({}, "stop"), b"data: [DONE]\n\n"]
    sent = run(GuardedConverter(Passthrough(), "openai", pii, None, lambda d: None), events)
    deltas = [e["choices"][0]["delta"] for e in sent]
    reasoning = "".join(d.get(field) or "" for d in deltas)
    assert reasoning == "The user is <EMAIL_ADDRESS>, so I will greet her."
    assert "".join(d.get("content") or "" for d in deltas) == "Hi!"
    # All of the reasoning is sent before the answer starts.
    last_reasoning = max(i for i, d in enumerate(deltas) if d.get(field))
    assert last_reasoning < min(i for i, d in enumerate(deltas) if d.get("content"))


def anthropic(name: str, data: dict[str, Any]) -> bytes:
    return encode_event(orjson.dumps({"type": name, **data}), name)


def test_anthropic_stream_thinking_is_redacted(pii: GuardrailSet) -> None:
    block = {"type": "thinking", "thinking": "", "signature": ""}
    events = [anthropic("content_block_start", {"index": 0, "content_block": block})]
    events += [
        anthropic(
            "content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": c}}
        )
        for c in THOUGHT
    ]
    signature = {"index": 0, "delta": {"type": "signature_delta", "signature": "c2ln"}}
    events += [
        anthropic("content_block_delta", signature),
        anthropic("content_block_stop", {"index": 0}),
        anthropic("message_stop", {}),
    ]
    sent = run(GuardedConverter(Passthrough(), "anthropic", pii, None, lambda d: None), events)
    deltas = [e["delta"] for e in sent if e["type"] == "content_block_delta"]
    thinking = "".join(d.get("thinking", "") for d in deltas if d["type"] == "thinking_delta")
    assert thinking == "The user is <EMAIL_ADDRESS>, so I will greet her."
    assert deltas[-1] == {"type": "signature_delta", "signature": "c2ln"}  # after all the text


def test_responses_stream_reasoning_summary_is_redacted(pii: GuardrailSet) -> None:
    where = {"item_id": "rs_1", "output_index": 0, "summary_index": 0}
    item = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": THOUGHT}],
    }
    events = [
        encode_event(
            orjson.dumps({"type": "response.reasoning_summary_text.delta", **where, "delta": c})
        )
        for c in THOUGHT
    ]
    events += [
        encode_event(
            orjson.dumps({"type": "response.reasoning_summary_text.done", **where, "text": THOUGHT})
        ),
        encode_event(
            orjson.dumps(
                {
                    "type": "response.reasoning_summary_part.done",
                    **where,
                    "part": item["summary"][0],
                }
            )
        ),
        encode_event(
            orjson.dumps({"type": "response.output_item.done", "output_index": 0, "item": item})
        ),
        encode_event(orjson.dumps({"type": "response.completed", "response": {"output": [item]}})),
    ]
    sent = run(GuardedConverter(Passthrough(), "responses", pii, None, lambda d: None), events)
    redacted = "The user is <EMAIL_ADDRESS>, so I will greet her."
    deltas = [e for e in sent if e["type"] == "response.reasoning_summary_text.delta"]
    assert "".join(e["delta"] for e in deltas) == redacted
    assert all(e["summary_index"] == 0 and e["item_id"] == "rs_1" for e in deltas)
    assert EMAIL not in orjson.dumps(sent).decode()
    assert sent[-1]["response"]["output"][0]["summary"][0]["text"] == redacted


def test_a_carried_thinking_blocks_text_is_redacted_in_json_and_stream(pii: GuardrailSet) -> None:
    """Claude's thinking carried to an OpenAI client (`reasoning_details`, `carried_thinking`)
    is reasoning text too: its entry's `text`, not only `reasoning_content`."""
    detail: dict[str, Any] = {"type": "reasoning.text", "text": THOUGHT, "signature": "gw1-x~sig"}
    sealed = {"type": "reasoning.encrypted", "data": f"gw1-x~{EMAIL}"}
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "Hi!",
        "reasoning_details": [detail, sealed],
    }
    answer: dict[str, Any] = {"object": "chat.completion", "choices": [{"message": message}]}
    apply(output_groups(answer, "openai"), pii, "output")
    assert (
        message["reasoning_details"][0]["text"]
        == "The user is <EMAIL_ADDRESS>, so I will greet her."
    )
    assert message["reasoning_details"][1]["data"] == f"gw1-x~{EMAIL}"  # opaque: left as it is

    events = [openai_chunk({"role": "assistant", "content": ""})]
    events += [openai_chunk({"reasoning_details": [{**detail, "text": THOUGHT}]})]
    events += [openai_chunk({"content": "Hi!"}), openai_chunk({}, "stop"), b"data: [DONE]\n\n"]
    sent = run(GuardedConverter(Passthrough(), "openai", pii, None, lambda d: None), events)
    entries = [e for c in sent for e in c["choices"][0]["delta"].get("reasoning_details", ())]
    assert [e["text"] for e in entries] == ["The user is <EMAIL_ADDRESS>, so I will greet her."]
    assert entries[0]["signature"] == "gw1-x~sig"
