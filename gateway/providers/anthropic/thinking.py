"""An Anthropic client's manual thinking, for a model that thinks only adaptively.

Claude Opus 4.7 and later (Opus 4.8, the Claude 5 models) refuse `thinking: {"type": "enabled",
"budget_tokens": N}` with 400 "\"thinking.type.enabled\" is not supported for this model. Use
\"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior.". A request
written for an older Claude (Claude Code, LangChain's `ChatAnthropic(thinking=...)`, any
Anthropic client) that a route or a fallback sends to such a model goes with `{"type":
"adaptive", "display": "summarized"}`: Claude decides how much to think (at the request's
`output_config.effort`, `high` when it has none), and the thinking text comes back, as the
manual mode showed it (these models leave it out by default; a `display` the request gave is
kept). The budget has no adaptive form and is left out.

The model is known by its name (`claude_versions`); a name that does not say is sent what was
asked.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.claude_versions import claude_version

_FIRST_ADAPTIVE_ONLY = (4, 7)


def thinks_adaptively_only(model: str) -> bool:
    """Whether the Claude model `model` names refuses the manual thinking mode."""
    version = claude_version(model)
    return version is not None and version >= _FIRST_ADAPTIVE_ONLY


def with_thinking_for(upstream: JSON, model: str) -> None:
    """Turn the Anthropic request `upstream`'s manual thinking into adaptive thinking when
    `model` takes only that."""
    thinking = upstream.get("thinking")
    if type(thinking) is dict and thinking.get("type") == "enabled":
        if thinks_adaptively_only(model):
            upstream["thinking"] = {
                "type": "adaptive",
                "display": thinking.get("display", "summarized"),
            }
