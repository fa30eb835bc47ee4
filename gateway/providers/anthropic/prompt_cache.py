"""An OpenAI client's prompt caching, on a Claude deployment.

OpenAI caches a prompt's prefix by itself; a client says it wants the cache kept for a
conversation with `prompt_cache_key` (Codex sends its session's on every request) and for how
long with `prompt_cache_retention` (`in_memory`, `24h`). Claude caches only what the request
marks, and those fields have no place in a Messages request: a Codex session on Claude paid
the whole conversation at the input price on every turn, where on OpenAI most of it is a
cache read at a tenth of it. Such a request gets Claude's automatic caching (a top-level
`cache_control`: Claude puts the breakpoint on the last cacheable block and moves it as the
conversation grows), kept 1 hour for `24h` (Claude's longest), else 5 minutes. A request that
does not ask is sent as it was: a cache write costs 1.25 x the input price (2 x for an hour),
which only a later read of the prefix pays back.

Claude takes at most 4 breakpoints, the automatic one included, and refuses a longer-lived
one after a shorter one: a request whose own markers (`cache_control` on a content part, an
OpenRouter convention `requests_openai_to_anthropic` carries) leave no room is sent as it is.
"""

from __future__ import annotations

from gateway.json_types import JSON

MAX_BREAKPOINTS = 4
_AN_HOUR = "1h"


def asks_prompt_cache(client: JSON) -> bool:
    """Whether an OpenAI-format request asks its prompt to be cached."""
    key, retention = client.get("prompt_cache_key"), client.get("prompt_cache_retention")
    return (isinstance(key, str) and bool(key)) or retention in ("in_memory", "24h")


def with_automatic_cache(upstream: JSON, client: JSON) -> None:
    """Claude's automatic caching on the Messages request `upstream` when the OpenAI-format
    request `client` asks for its prompt cache (see the module)."""
    if not asks_prompt_cache(client) or "cache_control" in upstream:
        return
    markers = breakpoints(upstream)
    if len(markers) >= MAX_BREAKPOINTS:
        return
    control: JSON = {"type": "ephemeral"}
    if client.get("prompt_cache_retention") == "24h":
        if any(marker.get("ttl") != _AN_HOUR for marker in markers):
            return  # an hour after five minutes: Claude refuses the order
        control["ttl"] = _AN_HOUR
    upstream["cache_control"] = control


def breakpoints(upstream: JSON) -> list[JSON]:
    """The `cache_control` of a Messages request's blocks, in the order Claude reads them
    (tools, system, messages)."""
    blocks: list[object] = []
    for field in ("tools", "system"):
        value = upstream.get(field)
        if isinstance(value, list):
            blocks += value
    for message in upstream.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            blocks += content
    return [
        block["cache_control"]
        for block in blocks
        if isinstance(block, dict) and isinstance(block.get("cache_control"), dict)
    ]
