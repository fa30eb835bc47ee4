"""An OpenAI client's `reasoning_effort` as Claude's thinking, on the Claude 4 models (which do
not think unless asked; the Claude 5 models think by default).

A client that names a reasoning effort (`low` to `max`: LangChain's `ChatOpenAI(reasoning_effort
=...)`, the openai SDK's, Open WebUI's reasoning setting, the Responses API's `reasoning.effort`)
asks the model to reason; to Claude Opus 4.8 and the other Claude 4 models it went as an effort
level only (4.6 and later) or nothing, and the model did not think. It now asks Claude to think:
adaptively from Claude 4.6 on (at the request's effort level, `effort`), with a budget of tokens
for the effort before (`thinking.BUDGETS`, below the request's `max_tokens`; none when that
leaves less than Anthropic's least, 1,024), as LiteLLM maps it.

What thinking is incompatible with, Anthropic refuses, so the request then goes without what
an OpenAI client often sends by default: `temperature` other than 1 and `top_k` ("`temperature`
may only be set to 1 when thinking is enabled"), a `top_p` below 0.95. Thinking is not asked
where Claude could not take it: a request that forces a tool (a structured output through the
forced tool, `tool_choice` `required` or a named function: "Thinking may not be enabled when
tool_choice forces tool use"), or that returns tool results to an assistant message without its
thinking blocks (`carried_thinking`: the client did not send them back), which a thinking Claude
refuses.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.claude_versions import claude_version
from gateway.providers.anthropic.forced_tools import forces_tool
from gateway.providers.anthropic.thinking import BUDGETS, MIN_BUDGET, thinks_by_default

_FIRST_THINKING = (4, 0)  # (the Claude 3 names carry no version: `claude_versions`)
_FIRST_ADAPTIVE = (4, 6)
_ASKING = {"low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "max"}
_LEAST_TOP_P = 0.95


def with_reasoning_thinking(upstream: JSON, reasoning_effort: object, in_tool_loop: bool) -> None:
    """Ask the Claude 4 model of the Anthropic request `upstream` to think, for an OpenAI
    client's `reasoning_effort` (see the module doc); `in_tool_loop`: the request returns tool
    results to a message without its thinking blocks."""
    effort = _ASKING.get(reasoning_effort) if isinstance(reasoning_effort, str) else None
    model = str(upstream.get("model") or "")
    version = claude_version(model)
    if (
        effort is None
        or in_tool_loop
        or version is None
        or version < _FIRST_THINKING
        or thinks_by_default(model)
        or "thinking" in upstream
        or forces_tool(upstream)
    ):
        return
    if version >= _FIRST_ADAPTIVE:
        upstream["thinking"] = {"type": "adaptive"}
    else:
        max_tokens = upstream.get("max_tokens")
        budget = min(BUDGETS[effort], (max_tokens if type(max_tokens) is int else 0) - 1)
        if budget < MIN_BUDGET:
            return
        upstream["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if upstream.get("temperature", 1) != 1:
        del upstream["temperature"]
    upstream.pop("top_k", None)
    top_p = upstream.get("top_p")
    if isinstance(top_p, (int, float)) and top_p < _LEAST_TOP_P:
        del upstream["top_p"]
