"""Web search across the two wires: Anthropic's web search tool (`web_search_20250305`,
`web_search_20260209`: the server tool Claude Code's WebSearch sends) on a deployment of
OpenAI's wire, and chat's `web_search_options` on Claude.

The tool runs on the provider's side, so only a provider with a search of its own can take it:
OpenAI's Responses API, whose `web_search` tool the gateway asks for through chat's
`web_search_options` (`chat_web_search_options`; `providers.responses.web_search`). An Anthropic
client's web search to a deployment with the Responses API (OpenAI's) is served there
(`api = "auto"`); to a chat completions deployment the options go as they are (OpenAI's search
models take them; a server without a search refuses them, or ignores them and answers without
searching, as it would a chat client's).

- The tool: `user_location` -> chat's `approximate` location, `allowed_domains` ->
  `filters.allowed_domains`; `max_uses` has no equivalent and is left out; `blocked_domains`
  (the Responses API can only allow) is refused, a 400, rather than searched without;
- the answer: each search the model made (the Anthropic bridge's `web_searches`) becomes a
  `server_tool_use` block (`input.query`) and its `web_search_tool_result` (a
  `web_search_result` per source read, its URL as its title: the search names no titles;
  `encrypted_content` empty, for the search result cannot be sent back to OpenAI), before the
  text; each `url_citation` annotation a `web_search_result_location` citation of the text
  block (`cited_text`: the text it spans, at most 150 characters; `encrypted_index` empty).

The other way, a chat client's `web_search_options` to Claude is Claude's web search tool
(`anthropic_web_search_tool`: `user_location` flattened, `filters.allowed_domains` as
`allowed_domains`, `search_context_size` as `max_uses`, 1, 5 or 10 searches for `low`,
`medium`, `high`, as LiteLLM maps it); the answer's search blocks have no chat form, and each
`web_search_result_location` citation of a text block is a `url_citation` annotation spanning
that block's text (`chat_annotations`).
"""

from __future__ import annotations

import orjson

from gateway.json_types import JSON
from gateway.providers.anthropic.errors import TranslationError

# The Anthropic bridge's own field on a chat message or chunk delta (never sent to a chat
# client): the searches the model made, each {"id", "query", "sources": [url, ...]}
# (`providers.responses.web_search.search_entry`).
SEARCHES_FIELD = "web_searches"
_LOCATION = ("city", "region", "country", "timezone")
# chat's `search_context_size` -> how many searches Claude may make.
_MAX_USES = {"low": 1, "medium": 5, "high": 10}
# Anthropic's longest `cited_text`.
_CITED_MAX = 150


def is_web_search(tool: object) -> bool:
    """Whether `tool` is Anthropic's web search (any version)."""
    return isinstance(tool, dict) and str(tool.get("type", "")).startswith("web_search_")


def asks_web_search(body: object) -> bool:
    """Whether a Messages request offers the web search tool."""
    tools = body.get("tools") if isinstance(body, dict) else None
    return isinstance(tools, list) and any(is_web_search(tool) for tool in tools)


def chat_web_search_options(tool: JSON) -> JSON:
    """Chat's `web_search_options` for the web search tool `tool`."""
    if tool.get("blocked_domains"):
        raise TranslationError(
            "'blocked_domains' of the web search tool cannot be honoured by an OpenAI "
            "deployment, whose search can only be limited to 'allowed_domains'",
            param="tools",
        )
    options: JSON = {}
    if (location := chat_location(tool.get("user_location"))) is not None:
        options["user_location"] = location
    if tool.get("allowed_domains"):
        options["filters"] = {"allowed_domains": tool["allowed_domains"]}
    return options


def search_blocks(entry: object) -> list[JSON]:
    """The `server_tool_use` block and `web_search_tool_result` block of a search (a
    `web_searches` entry); none for what is not one."""
    if not isinstance(entry, dict):
        return []
    block_id = f"srvtoolu_{entry.get('id') or 'gateway'}"
    query = entry.get("query") if isinstance(entry.get("query"), str) else ""
    results = [
        {
            "type": "web_search_result",
            "url": url,
            "title": url,
            "encrypted_content": "",
            "page_age": None,
        }
        for url in entry.get("sources") or ()
        if isinstance(url, str)
    ]
    return [
        {
            "type": "server_tool_use",
            "id": block_id,
            "name": "web_search",
            "input": {"query": query},
        },
        {"type": "web_search_tool_result", "tool_use_id": block_id, "content": results},
    ]


def anthropic_web_search_tool(options: object) -> JSON:
    """Claude's web search tool for chat's `web_search_options`."""
    options = options if isinstance(options, dict) else {}
    tool: JSON = {"type": "web_search_20250305", "name": "web_search"}
    uses = _MAX_USES.get(str(options.get("search_context_size")))
    if uses is not None:
        tool["max_uses"] = uses
    if (location := flat_location(options)) is not None:
        tool["user_location"] = location
    filters = options.get("filters")
    if isinstance(filters, dict) and filters.get("allowed_domains"):
        tool["allowed_domains"] = filters["allowed_domains"]
    return tool


def flat_location(options: JSON) -> JSON | None:
    """Chat's `user_location` (`{"type": "approximate", "approximate": {...}}`) as Claude's
    and the Responses API's search tools take it, flat; None without one."""
    location = options.get("user_location")
    approximate = location.get("approximate") if isinstance(location, dict) else None
    if not isinstance(approximate, dict):
        return None
    where = {k: approximate[k] for k in _LOCATION if isinstance(approximate.get(k), str)}
    return {"type": "approximate", **where} if where else None


def chat_location(location: object) -> JSON | None:
    """A search tool's flat `user_location` (Claude's, the Responses API's) as chat's
    `{"type": "approximate", "approximate": {...}}`; None without one. `flat_location` is the
    other way."""
    if not isinstance(location, dict):
        return None
    where = {k: location[k] for k in _LOCATION if isinstance(location.get(k), str)}
    return {"type": "approximate", "approximate": where} if where else None


def chat_annotations(block: JSON, offset: int) -> list[JSON]:
    """Chat's `url_citation` annotations for the web search citations of a text block whose
    text starts `offset` characters into the message's."""
    return [
        cited_span(citation, offset, offset + len(str(block.get("text") or "")))
        for citation in block.get("citations") or ()
        if isinstance(citation, dict) and citation.get("type") == "web_search_result_location"
    ]


def cited_span(citation: JSON, start: int, end: int) -> JSON:
    """Chat's `url_citation` annotation of a web search `citation`, spanning `start:end`."""
    url_citation = {
        "start_index": start,
        "end_index": end,
        "url": str(citation.get("url") or ""),
        "title": str(citation.get("title") or ""),
    }
    return {"type": "url_citation", "url_citation": url_citation}


def query_json(block: JSON) -> str:
    """A `server_tool_use` block's input as its stream's one `input_json_delta`."""
    return orjson.dumps(block.get("input") or {}).decode()


def citation(annotation: object, text: str) -> JSON | None:
    """The citation of chat's `url_citation` annotation (its indices in `text`, the answer's
    whole text); None for another kind."""
    if not isinstance(annotation, dict) or annotation.get("type") != "url_citation":
        return None
    cited = annotation.get("url_citation")
    cited = cited if isinstance(cited, dict) else {}
    start, end = cited.get("start_index"), cited.get("end_index")
    span = text[start:end] if isinstance(start, int) and isinstance(end, int) else ""
    return {
        "type": "web_search_result_location",
        "url": str(cited.get("url") or ""),
        "title": str(cited.get("title") or ""),
        "cited_text": span[:_CITED_MAX],
        "encrypted_index": "",
    }
