"""A prompt-cache breakpoint's `scope`, left out where its beta is not sent.

Claude Code puts `"scope": "global"` on the `cache_control` of its system prompt's blocks
(sharing that cache across its sessions), a field of the beta `prompt-caching-scope-2026-01-05`.
Without the beta, Anthropic refuses it: "system.2.cache_control.ephemeral.scope: Extra inputs are
not permitted" (Claude Code 2.1.89's first sessions, anthropics/claude-code#41966). The gateway
leaves the beta out for a server that refused it (`routing.learned_betas`, a provider's
`drop_betas`: Claude on Vertex behind a proxy, another company's Messages API), whose next
refusal was then that one. So a request sent with other betas but not this one goes without
the `scope` of its breakpoints (the cache is then the request's own, as before the beta). A
request with no beta at all is sent as it came (its client asked for no beta's fields).
"""

from __future__ import annotations

from gateway.json_types import JSON

BETA_PREFIX = "prompt-caching-scope-"


def without_cache_scope(upstream: JSON, beta: str | None) -> None:
    """Leave the `scope` of every `cache_control` of the Anthropic request `upstream` out when
    the `anthropic-beta` value `beta` is sent without the scope's beta (see the module doc);
    the client's body, which shares its parts, is left as it was."""
    if beta is None or BETA_PREFIX in beta:
        return
    system = upstream.get("system")
    if type(system) is list:
        upstream["system"] = _unscoped_blocks(system)
    tools = upstream.get("tools")
    if type(tools) is list:
        upstream["tools"] = _unscoped_blocks(tools)
    messages = upstream.get("messages")
    if type(messages) is not list:
        return
    kept: list[object] = []
    changed = False
    for message in messages:
        content = message.get("content") if type(message) is dict else None
        if type(content) is list:
            unscoped = _unscoped_blocks(content)
            if unscoped is not content:
                message, changed = {**message, "content": unscoped}, True
        kept.append(message)
    if changed:
        upstream["messages"] = kept


def _unscoped_blocks(blocks: list[object]) -> list[object]:
    """`blocks` with a copy of each one whose `cache_control` has a `scope` (nested content,
    a tool result's, too); `blocks` itself when none has."""
    out: list[object] | None = None
    for index, block in enumerate(blocks):
        if type(block) is not dict:
            continue
        fixed = block
        control = block.get("cache_control")
        if type(control) is dict and "scope" in control:
            unscoped = {k: v for k, v in control.items() if k != "scope"}
            fixed = {**block, "cache_control": unscoped}
        inner = block.get("content")
        if type(inner) is list:
            nested = _unscoped_blocks(inner)
            if nested is not inner:
                fixed = {**fixed, "content": nested}
        if fixed is not block:
            if out is None:
                out = list(blocks)
            out[index] = fixed
    return blocks if out is None else out
