"""Citations are answer text for the client: the titles, URLs and cited text of OpenAI
`annotations` (url_citation), Responses annotations, Anthropic `citations` and web search
results are read by output guardrails, in JSON answers and streams alike."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.bodies import output_groups
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard import _apply
from gateway.pipeline.services import Services
from gateway.sse import encode_event
from tests.unit.guardrails.test_reasoning import run
from tests.unit.guardrails.test_stream import Passthrough

EMAIL = "jane.doe@example.org"
TITLE = f"Contact page of {EMAIL}"
URL = f"https://example.com/people?mail={EMAIL}"


@pytest.fixture
def pii(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")
    )


def url_citation() -> dict[str, Any]:
    return {"type": "url_citation", "start_index": 0, "end_index": 5, "url": URL, "title": TITLE}


async def guarded_json(guards: GuardrailSet, data: dict[str, Any], wire: str) -> str:
    ctx = cast(RequestContext, SimpleNamespace(guardrails=[]))
    groups = output_groups(data, wire)
    await _apply(guards.output, groups, "output", ctx, cast(Services, None), None)
    return orjson.dumps(data).decode()


async def test_chat_url_citations_are_redacted(pii: GuardrailSet) -> None:
    cited = url_citation()
    annotation = {"type": "url_citation", "url_citation": cited}
    message = {"role": "assistant", "content": "Found.", "annotations": [annotation]}
    data = {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
    sent = await guarded_json(pii, data, "openai")
    assert EMAIL not in sent
    assert cited["title"] == "Contact page of <EMAIL_ADDRESS>"


async def test_responses_annotations_are_redacted(pii: GuardrailSet) -> None:
    part = {"type": "output_text", "text": "Found.", "annotations": [url_citation()]}
    item = {"type": "message", "id": "m", "role": "assistant", "content": [part]}
    sent = await guarded_json(pii, {"object": "response", "output": [item]}, "openai")
    assert EMAIL not in sent and "Contact page of <EMAIL_ADDRESS>" in sent


async def test_anthropic_citations_and_web_search_results_are_redacted(pii: GuardrailSet) -> None:
    citation = {
        "type": "web_search_result_location",
        "url": URL,
        "title": TITLE,
        "cited_text": f"Write to {EMAIL} for help.",
        "encrypted_index": "abc",
    }
    result = {"type": "web_search_result", "url": URL, "title": TITLE, "encrypted_content": "x"}
    data = {
        "type": "message",
        "content": [
            {"type": "web_search_tool_result", "tool_use_id": "s", "content": [result]},
            {"type": "text", "text": "Found.", "citations": [citation]},
        ],
    }
    sent = await guarded_json(pii, data, "anthropic")
    assert EMAIL not in sent
    assert citation["cited_text"] == "Write to <EMAIL_ADDRESS> for help."
    assert result["encrypted_content"] == "x" and citation["encrypted_index"] == "abc"


async def test_a_web_search_query_the_model_wrote_is_redacted(pii: GuardrailSet) -> None:
    # Streamed, the query is an `input_json_delta` (a window of its own); in JSON, the block's
    # `input` strings, as for a client tool's call.
    query = {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {"query": EMAIL}}
    data = {"type": "message", "content": [query, {"type": "text", "text": "Found."}]}
    sent = await guarded_json(pii, data, "anthropic")
    assert EMAIL not in sent and query["input"] == {"query": "<EMAIL_ADDRESS>"}


def converter(wire: str, guards: GuardrailSet) -> GuardedConverter:
    return GuardedConverter(Passthrough(), wire, guards, None, lambda d: None)


def test_streamed_chat_annotations_are_redacted(pii: GuardrailSet) -> None:
    annotation = {"type": "url_citation", "url_citation": url_citation()}
    choice = {"index": 0, "delta": {"annotations": [annotation]}, "finish_reason": None}
    events = [
        encode_event(orjson.dumps({"id": "c", "choices": [choice]})),
        encode_event(orjson.dumps({"id": "c", "choices": [{**choice, "delta": {}}]})),
    ]
    sent = run(converter("openai", pii), events)
    assert EMAIL not in orjson.dumps(sent).decode()
    title = sent[0]["choices"][0]["delta"]["annotations"][0]["url_citation"]["title"]
    assert title == "Contact page of <EMAIL_ADDRESS>"


def anthropic(name: str, data: dict[str, Any]) -> bytes:
    return encode_event(orjson.dumps({"type": name, **data}), name)


def test_streamed_anthropic_citations_and_search_results_are_redacted(pii: GuardrailSet) -> None:
    result = {"type": "web_search_result", "url": URL, "title": TITLE, "encrypted_content": "x"}
    search = {"type": "web_search_tool_result", "tool_use_id": "s", "content": [result]}
    citation = {"type": "web_search_result_location", "url": URL, "title": TITLE}
    opened = {"type": "text", "text": "See ", "citations": [citation]}
    events = [
        anthropic("content_block_start", {"index": 0, "content_block": search}),
        anthropic("content_block_stop", {"index": 0}),
        anthropic(
            "content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}
        ),
        anthropic(
            "content_block_delta",
            {"index": 1, "delta": {"type": "citations_delta", "citation": citation}},
        ),
        anthropic(
            "content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "Hi"}}
        ),
        anthropic("content_block_stop", {"index": 1}),
        anthropic("content_block_start", {"index": 2, "content_block": opened}),
        anthropic("content_block_stop", {"index": 2}),
        anthropic("message_stop", {}),
    ]
    sent = run(converter("anthropic", pii), events)
    assert EMAIL not in orjson.dumps(sent).decode()
    assert sent[0]["content_block"]["content"][0]["title"] == "Contact page of <EMAIL_ADDRESS>"
    assert sent[3]["delta"]["citation"]["title"] == "Contact page of <EMAIL_ADDRESS>"
    assert sent[6]["content_block"]["citations"][0]["title"] == "Contact page of <EMAIL_ADDRESS>"


def test_streamed_responses_annotations_are_redacted_where_they_repeat(pii: GuardrailSet) -> None:
    where = {"item_id": "m", "output_index": 0, "content_index": 0}
    part = {"type": "output_text", "text": "Found.", "annotations": [url_citation()]}
    item = {"type": "message", "id": "m", "role": "assistant", "content": [part]}
    events = [
        encode_event(
            orjson.dumps({"type": "response.output_text.delta", **where, "delta": "Found."})
        ),
        encode_event(
            orjson.dumps(
                {
                    "type": "response.output_text.annotation.added",
                    **where,
                    "annotation_index": 0,
                    "annotation": url_citation(),
                }
            )
        ),
        encode_event(orjson.dumps({"type": "response.content_part.done", **where, "part": part})),
        encode_event(
            orjson.dumps({"type": "response.output_item.done", "output_index": 0, "item": item})
        ),
        encode_event(orjson.dumps({"type": "response.completed", "response": {"output": [item]}})),
    ]
    sent = run(converter("responses", pii), events)
    assert EMAIL not in orjson.dumps(sent).decode()
    assert orjson.dumps(sent).decode().count("Contact page of <EMAIL_ADDRESS>") == 4
