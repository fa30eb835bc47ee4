"""Forced tool use, for the Claude models that refuse it.

Claude Opus 5.5, Sonnet 5.5, Fable 5.1 and Mythos 5.1 answer a `tool_choice` that forces a tool
(`{"type": "any"}`, `{"type": "tool", "name": ...}`) with a 400 `invalid_request_error`
(Anthropic's "Forced tool use returns an error"; they think always, or by default, and a forced
call would skip it). Clients force tools all the time: an OpenAI client's `tool_choice:
"required"` or a named function (LangChain's `with_structured_output(method="function_calling")`,
agents that force their final `complete_task`), an Anthropic client's forced choice written for
an older Claude that a route or a fallback sends to one of these. Such a request goes to them
with `{"type": "auto"}` (its `disable_parallel_tool_use` kept) and a sentence at the end of its
system prompt asking for the call: Claude then answers with the tool, as asked, though no
longer bound to. (A structured output, which the gateway asks of older models through a forced
tool, goes to these as Claude's own JSON output format instead: `structured_output`.)

The model is known by its name (`claude_versions`); a name that does not say is sent what was
asked.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.claude_versions import from_version_on

# Each family's first model that refuses forced tool use.
_FIRST_REFUSING = {"opus": (5, 5), "sonnet": (5, 5), "fable": (5, 1), "mythos": (5, 1)}
_FORCING = ("any", "tool")


def refuses_forced_tools(model: str) -> bool:
    """Whether the Claude model `model` names refuses a `tool_choice` that forces a tool."""
    return from_version_on(model, _FIRST_REFUSING)


def forces_tool(upstream: JSON) -> bool:
    """Whether the Anthropic request `upstream`'s `tool_choice` forces a tool (`any`, `tool`)."""
    choice = upstream.get("tool_choice")
    return type(choice) is dict and choice.get("type") in _FORCING


def with_tool_choice_for(upstream: JSON, model: str) -> None:
    """Make the Anthropic request `upstream`'s forced `tool_choice` one `model` takes: `auto`,
    with the call asked for in the system prompt (see the module doc)."""
    if not forces_tool(upstream) or not refuses_forced_tools(model):
        return
    choice = upstream["tool_choice"]
    name = choice.get("name")
    asked = (
        f"Answer by calling the `{name}` tool."
        if choice.get("type") == "tool" and isinstance(name, str)
        else "Answer by calling one of the tools."
    )
    relaxed: JSON = {"type": "auto"}
    if "disable_parallel_tool_use" in choice:
        relaxed["disable_parallel_tool_use"] = choice["disable_parallel_tool_use"]
    upstream["tool_choice"] = relaxed
    upstream["system"] = with_sentence(upstream.get("system"), asked)


def with_sentence(system: object, sentence: str) -> object:
    """The Anthropic `system` (a string, text blocks or none) with `sentence` at its end; the
    blocks are copied, not changed."""
    if isinstance(system, list):
        return [*system, {"type": "text", "text": sentence}]
    if isinstance(system, str) and system:
        return f"{system}\n\n{sentence}"
    return sentence
