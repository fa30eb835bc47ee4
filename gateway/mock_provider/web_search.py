"""The mock's web search: OpenAI's hosted `web_search` tool on its Responses API, and Claude's
web search tool (`web_search_20250305` and later) on its Messages API.

A request offering the tool (`web_search`, `web_search_preview` and their dated versions) whose
answer is text searches once: a `web_search_call` item (its action the search for the last
user message's text, with the one source it read when `include` asks for
`web_search_call.action.sources`, as OpenAI answers), then the answer's text followed by the
source's URL in parentheses, cited by a `url_citation` annotation spanning the URL. The URL and
title are made from the query, so a test knows them in advance (`source_url`).

Claude's search (a request offering the tool whose answer is text) is Claude's blocks: a
`server_tool_use` (`input.query`: the last user message's text), its `web_search_tool_result`
with the one `web_search_result` (`encrypted_content` made up, as Anthropic's is opaque), then
the answer's text block citing it (`web_search_result_location`, `cited_text` the text's first
150 characters); `usage.server_tool_use.web_search_requests` 1 (`anthropic_search_blocks`).
"""

from __future__ import annotations

import zlib

from gateway.json_types import JSON

SOURCES = "web_search_call.action.sources"


def is_search_tool(tool: object) -> bool:
    """Whether `tool` is a web search tool (OpenAI's hosted one, or Claude's)."""
    return isinstance(tool, dict) and str(tool.get("type", "")).startswith("web_search")


def offers_search(tools: object) -> bool:
    """Whether `tools` hold a web search tool."""
    return isinstance(tools, list) and any(is_search_tool(tool) for tool in tools)


def searches(request: JSON) -> bool:
    """Whether the Responses `request` offers the web search tool."""
    return offers_search(request.get("tools"))


def source_url(query: str) -> str:
    """The URL of the one source a search for `query` reads."""
    return f"https://search.example/{zlib.crc32(query.encode()):08x}"


def search_call(request: JSON, query: str) -> JSON:
    """The `web_search_call` item of the request's search for `query`."""
    action: JSON = {"type": "search", "query": query}
    include = request.get("include")
    if isinstance(include, list) and SOURCES in include:
        action["sources"] = [{"type": "url", "url": source_url(query)}]
    digest = zlib.crc32(query.encode())
    return {
        "id": f"ws_mock{digest:08x}",
        "type": "web_search_call",
        "status": "completed",
        "action": action,
    }


def cited(text: str, query: str) -> tuple[str, JSON]:
    """The answer `text` with its source's URL after it, and the annotation citing it."""
    url = source_url(query)
    start = len(text) + 2  # after " ("
    annotation = {
        "type": "url_citation",
        "start_index": start,
        "end_index": start + len(url),
        "url": url,
        "title": f"Results for {query}"[:80],
    }
    return f"{text} ({url})", annotation


def anthropic_search_blocks(query: str, text: str) -> list[JSON]:
    """Claude's blocks for an answer `text` that searched for `query`."""
    url = source_url(query)
    block_id = f"srvtoolu_mock{zlib.crc32(query.encode()):08x}"
    title = f"Results for {query}"[:80]
    result = {
        "type": "web_search_result",
        "url": url,
        "title": title,
        "encrypted_content": "bW9jaw==",
        "page_age": None,
    }
    citation = {
        "type": "web_search_result_location",
        "url": url,
        "title": title,
        "cited_text": text[:150],
        "encrypted_index": "bW9jaw==",
    }
    return [
        {
            "type": "server_tool_use",
            "id": block_id,
            "name": "web_search",
            "input": {"query": query},
        },
        {"type": "web_search_tool_result", "tool_use_id": block_id, "content": [result]},
        {"type": "text", "text": text, "citations": [citation]},
    ]
