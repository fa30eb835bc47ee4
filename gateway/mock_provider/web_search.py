"""The mock's web search: OpenAI's hosted `web_search` tool on its Responses API.

A request offering the tool (`web_search`, `web_search_preview` and their dated versions) whose
answer is text searches once: a `web_search_call` item (its action the search for the last
user message's text, with the one source it read when `include` asks for
`web_search_call.action.sources`, as OpenAI answers), then the answer's text followed by the
source's URL in parentheses, cited by a `url_citation` annotation spanning the URL. The URL and
title are made from the query, so a test knows them in advance (`source_url`).
"""

from __future__ import annotations

import zlib

from gateway.json_types import JSON

SOURCES = "web_search_call.action.sources"


def searches(request: JSON) -> bool:
    """Whether `request` offers the web search tool."""
    tools = request.get("tools")
    return isinstance(tools, list) and any(
        isinstance(tool, dict) and str(tool.get("type", "")).startswith("web_search")
        for tool in tools
    )


def search_query(request: JSON) -> str:
    """The text of the request's last user message (the input, when a string)."""
    items = request.get("input")
    if isinstance(items, str):
        return items
    for item in reversed(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            texts = [p.get("text") for p in content or () if isinstance(p, dict)]
            return " ".join(t for t in texts if isinstance(t, str))
    return ""


def source_url(query: str) -> str:
    """The URL of the one source a search for `query` reads."""
    return f"https://search.example/{zlib.crc32(query.encode()):08x}"


def search_call(request: JSON) -> JSON:
    """The `web_search_call` item of the request's search."""
    query = search_query(request)
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


def cited(text: str, request: JSON) -> tuple[str, JSON]:
    """The answer `text` with its source's URL after it, and the annotation citing it."""
    query = search_query(request)
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
