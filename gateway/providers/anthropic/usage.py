"""Token usage in both formats, and the gateway's `Usage` record read from Anthropic's.

Anthropic's `input_tokens` excludes cache reads and writes; OpenAI's `prompt_tokens` includes
every prompt token. Each conversion moves the cached counts across that line.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.base import Usage, token_count


def openai_usage(usage: object) -> JSON:
    """Anthropic usage -> OpenAI usage.

    Anthropic's `input_tokens` excludes cache reads and writes; OpenAI's `prompt_tokens`
    includes every prompt token, so both cache counts are added back. `prompt_tokens_details`
    appears only when Anthropic reported `cache_read_input_tokens`.
    """
    usage = usage if isinstance(usage, dict) else {}
    cache_read = usage.get("cache_read_input_tokens")
    cache_read_count = token_count(cache_read, "cache_read_input_tokens")
    prompt = (
        token_count(usage.get("input_tokens"), "input_tokens")
        + cache_read_count
        + token_count(usage.get("cache_creation_input_tokens"), "cache_creation_input_tokens")
    )
    completion = token_count(usage.get("output_tokens"), "output_tokens")
    out: JSON = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cache_read is not None:
        out["prompt_tokens_details"] = {"cached_tokens": cache_read_count}
    return out


def anthropic_usage(usage: object) -> JSON:
    """OpenAI usage -> Anthropic usage.

    OpenAI's `prompt_tokens` includes cached tokens; Anthropic's `input_tokens` does not, so the
    cached ones move to `cache_read_input_tokens` (present only when OpenAI reported them).
    """
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    prompt = token_count(usage.get("prompt_tokens"), "prompt_tokens")
    cached_count = token_count(cached, "cached_tokens")
    out: JSON = {
        "input_tokens": max(prompt - cached_count, 0),
        "output_tokens": token_count(usage.get("completion_tokens"), "completion_tokens"),
    }
    if cached is not None:
        out["cache_read_input_tokens"] = cached_count
    return out


def usage_from_anthropic(usage: object) -> Usage | None:
    """Anthropic usage as the gateway's record (prompt counts include cache reads and writes;
    the writes to the 1-hour cache, `cache_creation.ephemeral_1h_input_tokens`, are counted
    apart too, the web searches, `server_tool_use.web_search_requests`, and the fast mode that
    served it, `speed: "fast"`); None when `usage` is not an object."""
    if not isinstance(usage, dict):
        return None
    cache_read = token_count(usage.get("cache_read_input_tokens"), "cache_read_input_tokens")
    cache_write = token_count(
        usage.get("cache_creation_input_tokens"), "cache_creation_input_tokens"
    )
    by_ttl = usage.get("cache_creation")
    written_1h = (
        token_count(by_ttl.get("ephemeral_1h_input_tokens"), "ephemeral_1h_input_tokens")
        if isinstance(by_ttl, dict)
        else 0
    )
    server_tools = usage.get("server_tool_use")
    searches = (
        token_count(server_tools.get("web_search_requests"), "web_search_requests")
        if isinstance(server_tools, dict)
        else 0
    )
    return Usage(
        prompt_tokens=token_count(usage.get("input_tokens"), "input_tokens")
        + cache_read
        + cache_write,
        completion_tokens=token_count(usage.get("output_tokens"), "output_tokens"),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=min(written_1h, cache_write),
        web_searches=searches,
        service_tier="fast" if usage.get("speed") == "fast" else None,
        reported=True,
    )
