"""Web search between chat and the Responses API: a chat request's `web_search_options` as
OpenAI's hosted `web_search` tool, and what the search gives back as chat has it.

Chat completions search only with OpenAI's search models (`gpt-5-search-api`, ...); the
Responses API searches with its `web_search` tool for its other models too. So a chat request
served through the Responses API (a deployment with `api = "responses"`, and an Anthropic
client's web search: `providers.anthropic.web_search`) asks for the tool
(`web_search_tool`), with `search_context_size`, `user_location` (chat's `approximate` object
flattened, as the tool takes it) and `filters.allowed_domains` (an extension of chat's options:
the Anthropic tool's `allowed_domains`), and for the sources the search read
(`include: ["web_search_call.action.sources"]`).

The answer's `url_citation` annotations (`start_index`, `end_index`, `url`, `title` on an
`output_text` part) become chat's (`{"type": "url_citation", "url_citation": {...}}` on the
message, their indices counted in the message's whole text: `chat_annotation`). A
`web_search_call` item has no chat form: a chat client gets the cited answer, as from a search
model. The Anthropic bridge, whose client's answer has blocks for the searches, asks for them
as `web_searches` entries (`search_entry`: the call's id, query and sources), a field of the
bridge's own that no chat client is sent.

The other way, a Responses client's live web search (the `web_search` tool without
`external_web_access: false`: Codex's `web_search = "live"`; its default, cached search, says
false) to a Claude deployment is chat's `web_search_options` (`live_search_options`), which the
Anthropic translation makes Claude's search; the answer's chat `url_citation` annotations are
the `output_text` part's (`responses_annotation`).
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.web_search import chat_location, flat_location

SOURCES = "web_search_call.action.sources"


def web_search_tool(options: object) -> JSON:
    """The Responses `web_search` tool a chat request's `web_search_options` ask for."""
    options = options if isinstance(options, dict) else {}
    tool: JSON = {"type": "web_search"}
    if isinstance(options.get("search_context_size"), str):
        tool["search_context_size"] = options["search_context_size"]
    if (location := flat_location(options)) is not None:
        tool["user_location"] = location
    filters = options.get("filters")
    if isinstance(filters, dict) and filters.get("allowed_domains"):
        tool["filters"] = {"allowed_domains": filters["allowed_domains"]}
    return tool


def chat_annotation(annotation: object, offset: int = 0) -> JSON | None:
    """Chat's form of a Responses `url_citation` annotation on a part that starts `offset`
    characters into the message's text; None for another kind (a file citation)."""
    if not isinstance(annotation, dict) or annotation.get("type") != "url_citation":
        return None
    start, end = annotation.get("start_index"), annotation.get("end_index")
    citation: JSON = {
        "start_index": offset + start if isinstance(start, int) else offset,
        "end_index": offset + end if isinstance(end, int) else offset,
        "url": str(annotation.get("url") or ""),
        "title": str(annotation.get("title") or ""),
    }
    return {"type": "url_citation", "url_citation": citation}


def search_entry(item: object) -> JSON | None:
    """A `web_search_call` item as a `web_searches` entry: its id, the query it searched (a
    search action's) and the URLs of the sources it read; None for another item."""
    if not isinstance(item, dict) or item.get("type") != "web_search_call":
        return None
    action = item.get("action")
    action = action if isinstance(action, dict) else {}
    query = action.get("query")
    sources = action.get("sources")
    urls = [
        str(source["url"])
        for source in (sources if isinstance(sources, list) else ())
        if isinstance(source, dict) and isinstance(source.get("url"), str)
    ]
    return {
        "id": str(item.get("id") or ""),
        "query": query if isinstance(query, str) else "",
        "sources": urls,
    }


def live_search_options(request: JSON) -> JSON | None:
    """Chat's `web_search_options` for a Responses request's live web search tool, or None
    when it offers none (or only the cached search)."""
    for tool in request.get("tools") or ():
        if not isinstance(tool, dict) or not str(tool.get("type", "")).startswith("web_search"):
            continue
        if tool.get("external_web_access") is False:
            continue
        options: JSON = {}
        if isinstance(tool.get("search_context_size"), str):
            options["search_context_size"] = tool["search_context_size"]
        if (location := chat_location(tool.get("user_location"))) is not None:
            options["user_location"] = location
        filters = tool.get("filters")
        if isinstance(filters, dict) and filters.get("allowed_domains"):
            options["filters"] = {"allowed_domains": filters["allowed_domains"]}
        return options
    return None


def responses_annotation(annotation: object) -> JSON | None:
    """The Responses form of chat's `url_citation` annotation; None for another kind."""
    if not isinstance(annotation, dict) or annotation.get("type") != "url_citation":
        return None
    cited = annotation.get("url_citation")
    cited = cited if isinstance(cited, dict) else {}
    return {
        "type": "url_citation",
        "start_index": cited.get("start_index") if isinstance(cited.get("start_index"), int) else 0,
        "end_index": cited.get("end_index") if isinstance(cited.get("end_index"), int) else 0,
        "url": str(cited.get("url") or ""),
        "title": str(cited.get("title") or ""),
    }
