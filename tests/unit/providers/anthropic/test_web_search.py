"""Anthropic's web search tool on OpenAI's wire: the tool as `web_search_options` (the
Responses API's `web_search` tool through the bridge), and the searches and citations of the
answer as Claude's blocks, JSON and streamed; a chat client's citations counted in its text."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.providers import adapter_for
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.anthropic.requests_anthropic_to_openai import anthropic_request_to_openai
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic
from gateway.providers.anthropic.responses_anthropic_to_openai import anthropic_response_to_openai
from gateway.providers.anthropic.responses_openai_to_anthropic import openai_response_to_anthropic
from gateway.providers.anthropic.streams_anthropic_to_openai import AnthropicToOpenAIStream
from gateway.providers.responses.anthropic_bridge import AnthropicThroughResponsesStream
from gateway.providers.responses.events import ResponseEvents, encode
from gateway.providers.responses.objects import message_item, response_object
from gateway.providers.responses.requests_chat_to_responses import chat_request_to_responses
from gateway.providers.responses.responses_responses_to_chat import responses_response_to_chat
from gateway.providers.responses.streams_responses_to_chat import ResponsesToChatStream
from gateway.sse import SSEDecoder

URL = "https://docs.example.org/notes"
SEARCH = {
    "id": "ws_1",
    "type": "web_search_call",
    "status": "completed",
    "action": {"type": "search", "query": "notes", "sources": [{"type": "url", "url": URL}]},
}
TEXT = "See the notes (notes)."
ANNOTATION = {"type": "url_citation", "start_index": 14, "end_index": 21, "url": URL, "title": "N"}


def _asked(**tool: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "search"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search", **tool}],
        "tool_choice": {"type": "tool", "name": "web_search"},
    }


def test_the_tool_is_the_responses_search_with_its_location_and_domains() -> None:
    location = {"type": "approximate", "city": "Lyon", "country": "FR", "timezone": 7}
    chat = anthropic_request_to_openai(
        _asked(user_location=location, allowed_domains=["a.org"], max_uses=3), "gpt"
    )
    assert "tools" not in chat and "tool_choice" not in chat  # OpenAI refuses a lone choice
    upstream = chat_request_to_responses(chat, "gpt")
    assert upstream["tools"] == [
        {
            "type": "web_search",
            "user_location": {"type": "approximate", "city": "Lyon", "country": "FR"},
            "filters": {"allowed_domains": ["a.org"]},
        }
    ]
    assert upstream["include"] == ["web_search_call.action.sources"]


def test_blocked_domains_are_refused_not_searched_without() -> None:
    with pytest.raises(TranslationError, match="blocked_domains"):
        anthropic_request_to_openai(_asked(blocked_domains=["b.org"]), "gpt")


def test_a_function_tool_beside_the_search_keeps_its_choice() -> None:
    body = _asked()
    body["tools"].append({"name": "f", "input_schema": {"type": "object"}})
    body["tool_choice"] = {"type": "any"}
    chat = anthropic_request_to_openai(body, "gpt")
    assert [t["function"]["name"] for t in chat["tools"]] == ["f"]
    assert chat["tool_choice"] == "required" and "web_search_options" in chat


@pytest.mark.parametrize(
    ("responses", "path"), [(True, "/v1/responses"), (None, "/v1/chat/completions")]
)
def test_a_search_takes_an_auto_deployment_through_the_responses_api_it_has(
    responses: bool | None, path: str
) -> None:
    provider = ProviderConfig(name="p", type="openai", base_url="http://h/v1", responses=responses)
    body = _asked()
    adapter = adapter_for("messages", provider, None, body, "auto", "gpt")
    call = adapter.prepare(body, DeploymentConfig(provider="p", model="gpt"), provider, "k")
    assert call.url.endswith(path)
    if responses is None:  # a chat server: the options as they are (a search model's)
        assert orjson.loads(call.body)["web_search_options"] == {}


def _answer() -> dict[str, Any]:
    message = message_item("msg_1", TEXT)
    message["content"][0]["annotations"] = [ANNOTATION]
    return response_object({}, "resp_1", "gpt", [SEARCH, message], None)


def test_the_answer_has_the_search_blocks_then_the_cited_text() -> None:
    chat = responses_response_to_chat(_answer(), searches=True)
    use, result, text = openai_response_to_anthropic(chat, "gpt")["content"]
    assert use == {
        "type": "server_tool_use",
        "id": "srvtoolu_ws_1",
        "name": "web_search",
        "input": {"query": "notes"},
    }
    assert result["tool_use_id"] == use["id"]
    assert [(r["type"], r["url"]) for r in result["content"]] == [("web_search_result", URL)]
    assert text["text"] == TEXT
    assert text["citations"] == [
        {
            "type": "web_search_result_location",
            "url": URL,
            "title": "N",
            "cited_text": "(notes)",
            "encrypted_index": "",
        }
    ]


def test_a_chat_client_gets_the_citations_and_never_the_bridges_field() -> None:
    message = responses_response_to_chat(_answer())["choices"][0]["message"]
    assert "web_searches" not in message
    [annotation] = message["annotations"]
    assert annotation["url_citation"]["start_index"] == 14


def _stream(parts: list[list[str]]) -> list[bytes]:
    """A searched answer streamed: the search, then each part's text, its citation after it."""
    events = ResponseEvents({"model": "gpt"}, "resp_1", "gpt", created_at=1)
    out = events.start() + events.whole_item(SEARCH)
    for pieces in parts:
        out += events.close_open() + events.text("")
        for piece in pieces:
            out += events.text(piece)
        out += events.annotate(ANNOTATION)
    out += events.complete({"input_tokens": 3, "output_tokens": 5})
    return [encode(event) for event in out]


def test_a_chat_clients_streamed_citation_counts_in_the_whole_text() -> None:
    converter = ResponsesToChatStream(include_usage=False)
    chunks = [c for e in _stream([["See the ", "notes (notes)."]] * 2) for c in converter.feed(e)]
    deltas = [
        orjson.loads(e.data)["choices"][0]["delta"]
        for e in SSEDecoder().feed(b"".join(chunks))
        if e.data.startswith(b"{")
    ]
    text = "".join(d.get("content") or "" for d in deltas)
    cited = [a["url_citation"] for d in deltas for a in d.get("annotations") or ()]
    assert [text[c["start_index"] : c["end_index"]] for c in cited] == ["(notes)"] * 2
    assert not any("web_searches" in d for d in deltas)


def test_the_stream_has_claudes_blocks_in_claudes_order() -> None:
    converter = AnthropicThroughResponsesStream("gpt", 3)
    out = [b for e in _stream([["See the ", "notes (notes)."]]) for b in converter.feed(e)]
    out += converter.finish()
    events = [orjson.loads(e.data) for e in SSEDecoder().feed(b"".join(out))]
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["server_tool_use", "web_search_tool_result", "text"]
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    assert deltas[0] == {"type": "input_json_delta", "partial_json": '{"query":"notes"}'}
    [citation] = [d["citation"] for d in deltas if d["type"] == "citations_delta"]
    assert citation["cited_text"] == "(notes)" and citation["url"] == URL
    assert events[-1]["type"] == "message_stop"


CITATION = {
    "type": "web_search_result_location",
    "url": URL,
    "title": "N",
    "cited_text": "notes",
    "encrypted_index": "x",
}
CLAUDE_CONTENT: list[dict[str, Any]] = [
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
    {"type": "text", "text": "Here: "},
    {"type": "text", "text": "the notes.", "citations": [CITATION]},
]


def test_web_search_options_are_claudes_tool() -> None:
    options = {
        "search_context_size": "high",
        "user_location": {"type": "approximate", "approximate": {"city": "Lyon", "x": 1}},
        "filters": {"allowed_domains": ["a.org"]},
    }
    body = {"messages": [{"role": "user", "content": "q"}], "web_search_options": options}
    assert openai_request_to_anthropic(body, "claude")["tools"] == [
        {
            "type": "web_search_20250305",
            "name": "web_search",
            "max_uses": 10,
            "user_location": {"type": "approximate", "city": "Lyon"},
            "allowed_domains": ["a.org"],
        }
    ]


def _spans(content: str, annotations: list[dict[str, Any]]) -> list[str]:
    return [
        content[a["url_citation"]["start_index"] : a["url_citation"]["end_index"]]
        for a in annotations
    ]


def test_claudes_citations_are_annotations_spanning_their_block() -> None:
    answer = {"id": "m", "content": CLAUDE_CONTENT, "stop_reason": "end_turn", "usage": {}}
    message = anthropic_response_to_openai(answer, "claude", created=0)["choices"][0]["message"]
    assert message["content"] == "Here: the notes."
    assert _spans(message["content"], message["annotations"]) == ["the notes."]


def test_a_streamed_citation_is_an_annotation_once_its_block_closed() -> None:
    converter = AnthropicToOpenAIStream("claude", include_usage=False, created=0)
    chunks = converter.feed(None, {"type": "message_start", "message": {"id": "m"}})
    for index, block in enumerate(CLAUDE_CONTENT):
        if block["type"] != "text":
            chunks += converter.feed(
                None, {"type": "content_block_start", "index": index, "content_block": block}
            )
        else:
            opened = {"type": "text", "text": "", "citations": []}
            chunks += converter.feed(
                None, {"type": "content_block_start", "index": index, "content_block": opened}
            )
            for citation in block.get("citations") or ():
                delta = {"type": "citations_delta", "citation": citation}
                chunks += converter.feed(
                    None, {"type": "content_block_delta", "index": index, "delta": delta}
                )
            delta = {"type": "text_delta", "text": block["text"]}
            chunks += converter.feed(
                None, {"type": "content_block_delta", "index": index, "delta": delta}
            )
        chunks += converter.feed(None, {"type": "content_block_stop", "index": index})
    deltas = [c["choices"][0]["delta"] for c in chunks]
    content = "".join(d.get("content") or "" for d in deltas)
    annotations = [a for d in deltas for a in d.get("annotations") or ()]
    assert _spans(content, annotations) == ["the notes."]
