"""An Anthropic client's thinking, in the mode the deployment's Claude model takes.

Claude Opus 4.7 and later (Opus 4.8, the Claude 5 models) refuse manual thinking, `thinking:
{"type": "enabled", "budget_tokens": N}`, with 400 "\"thinking.type.enabled\" is not supported
for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking
behavior.". A request written for an older Claude (LangChain's `ChatAnthropic(thinking=...)`,
any Anthropic client) that a route or a fallback sends to such a model goes with `{"type":
"adaptive", "display": "summarized"}`: Claude decides how much to think (at the request's
`output_config.effort`, `high` when it has none), and the thinking text comes back, as the
manual mode showed it (these models leave it out by default; a `display` the request gave is
kept). The budget has no adaptive form and is left out.

The other way, the models before Claude 4.6 (Sonnet 4.5, Haiku 4.5, Opus 4.5 and the Claude 4.0
and 4.1 models) refuse adaptive thinking, "adaptive thinking is not supported on this model",
which Claude Code asks of the models it knows to take it: a route or a fallback from those to an
older model sends it manual thinking instead, with a budget of tokens for the request's effort
(`BUDGETS`, `high` when it has none) below its `max_tokens`; a `max_tokens` that leaves less
than Anthropic's least budget (1,024 tokens) is sent no thinking.

Turning thinking off changed with the Claude 5 models, which think (adaptively) when a request
says nothing of it: Fable 5, Mythos 5 and Opus 5.5 cannot be asked not to ("\"thinking.type.
disabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.
effort\" to control thinking behavior."), Sonnet 5.5 says it `between_tools` and refuses
`disabled`, Opus 5 and Sonnet 5.5 take it off only at effort `high` or below (a 400 at `xhigh`
or `max`; Anthropic's migration guides). A request's `disabled` or `between_tools` goes to each
model in its word (`thinking_off`): none at all to the models that always think, whose effort is
then what keeps the answer short; with an effort of `xhigh` or `max` lowered to `high` where
thinking is off only up to it (the answer keeps the shape the client asked for, without
thinking blocks). An OpenAI client's `reasoning_effort` of `none` or `minimal` is such a request
to the models that think by default, and so is its request that returns tool results: it
cannot send the loop's thinking blocks back ("a final `assistant` message must start with a
thinking block ... To avoid this requirement, disable `thinking`"; `openai_thinking_off`).

The model is known by its name (`claude_versions`); a name that does not say is sent what was
asked.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.claude_versions import claude_version, from_version_on

_FIRST_ADAPTIVE = (4, 6)
_FIRST_ADAPTIVE_ONLY = (4, 7)
_FIRST_THINKING_BY_DEFAULT = (5, 0)
# Each family's first model that always thinks (`disabled` refused), that says "no up-front
# thinking" `between_tools` (`disabled` refused), and that takes either only at effort `high`
# or below.
_ALWAYS_THINKING = {"opus": (5, 5), "fable": (5, 0), "mythos": (5, 0)}
_BETWEEN_TOOLS = {"sonnet": (5, 5)}
_OFF_UP_TO_HIGH = {"opus": (5, 0), "sonnet": (5, 5)}
_OFF_WORDS = ("disabled", "between_tools")
# The thinking budget of manual thinking, for each effort level; Anthropic's least is 1,024.
BUDGETS = {"low": 1_024, "medium": 4_096, "high": 16_384, "xhigh": 24_576, "max": 32_000}
MIN_BUDGET = 1_024


def thinks_adaptively_only(model: str) -> bool:
    """Whether the Claude model `model` names refuses the manual thinking mode."""
    version = claude_version(model)
    return version is not None and version >= _FIRST_ADAPTIVE_ONLY


def thinks_manually_only(model: str) -> bool:
    """Whether the Claude model `model` names refuses the adaptive thinking mode."""
    version = claude_version(model)
    return version is not None and version < _FIRST_ADAPTIVE


def thinks_by_default(model: str) -> bool:
    """Whether the Claude model `model` names thinks when a request says nothing of it."""
    version = claude_version(model)
    return version is not None and version >= _FIRST_THINKING_BY_DEFAULT


def thinking_off(model: str) -> JSON | None:
    """The `thinking` that asks the Claude model `model` names not to think up front, or None
    for a model that always thinks."""
    if from_version_on(model, _ALWAYS_THINKING):
        return None
    if from_version_on(model, _BETWEEN_TOOLS):
        return {"type": "between_tools"}
    return {"type": "disabled"}


def openai_thinking_off(reasoning_effort: object, model: str, in_tool_loop: bool) -> bool:
    """Whether an OpenAI client's request goes to the Claude model `model` names with thinking
    off: the model thinks by default, and the request asks for no reasoning (`none`,
    `minimal`) or returns tool results (its client cannot send the thinking blocks of that
    tool loop back, which Claude wants while it thinks)."""
    if not thinks_by_default(model):
        return False
    return in_tool_loop or reasoning_effort in ("none", "minimal")


def with_thinking_for(upstream: JSON, model: str) -> None:
    """Turn the Anthropic request `upstream`'s thinking into the mode `model` takes: manual as
    adaptive for the models that take only that, adaptive as manual for those before it, and
    thinking off in the model's word (`thinking_off`)."""
    thinking = upstream.get("thinking")
    if type(thinking) is not dict:
        return
    kind = thinking.get("type")
    if kind in _OFF_WORDS and claude_version(model) is not None:
        _without_thinking(upstream, model)
        return
    if kind == "enabled" and thinks_adaptively_only(model):
        upstream["thinking"] = {
            "type": "adaptive",
            "display": thinking.get("display", "summarized"),
        }
    elif kind == "adaptive" and thinks_manually_only(model):
        budget = _budget(upstream)
        if budget is None:
            del upstream["thinking"]
        else:
            upstream["thinking"] = {"type": "enabled", "budget_tokens": budget}


def _budget(upstream: JSON) -> int | None:
    """The manual thinking budget for the request's effort, below its `max_tokens`; None
    when that leaves less than Anthropic's least."""
    config = upstream.get("output_config")
    effort = config.get("effort") if type(config) is dict else None
    wanted = BUDGETS.get(effort, BUDGETS["high"]) if isinstance(effort, str) else BUDGETS["high"]
    max_tokens = upstream.get("max_tokens")
    if type(max_tokens) is not int:
        return wanted
    budget = min(wanted, max_tokens - 1)
    return budget if budget >= MIN_BUDGET else None


def _without_thinking(upstream: JSON, model: str) -> None:
    off = thinking_off(model)
    if off is None:
        del upstream["thinking"]  # adaptive: the model's only mode, its effort the control
        return
    upstream["thinking"] = off
    config = upstream.get("output_config")
    if (
        from_version_on(model, _OFF_UP_TO_HIGH)
        and type(config) is dict
        and config.get("effort") in ("xhigh", "max")
    ):
        upstream["output_config"] = {**config, "effort": "high"}
