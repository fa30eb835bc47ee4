"""Effort levels both ways: an OpenAI client's `reasoning_effort` as Claude's
`output_config.effort`, and an Anthropic client's effort as an OpenAI reasoning model's.

Claude 4.6 and later take an effort level (`output_config.effort`): how much the model spends on
an answer (its thinking, its text and its tool calls), `high` when the request says none. The
levels: `low`, `medium`, `high` and `max` from the 4.6 models on, and `xhigh` (between `high`
and `max`) from Opus 4.7 on. OpenAI's `reasoning_effort` (the chat endpoint's, or the Responses
API's `reasoning.effort`) maps onto them: `none` and `minimal` -> `low` (the least Claude can be
asked for), `low`, `medium`, `high` as they are, `xhigh` -> `xhigh` (`max` before 4.7, whose
highest level it is), and a `max` some clients send stays. Other values, and the models before
4.6 (Sonnet 4.5 refuses the setting), are sent no effort, as before: the model's default.

The effort also turns thinking on for the Claude 4 models (`reasoning_thinking`); the Claude 5
models think by default.

The model is known by its name (`claude_versions`); a name that does not say is sent no effort.

An Anthropic client's own `output_config.effort` (Claude Code sends one) goes to a Claude
deployment as a level its model takes (`with_effort_for`): `xhigh` exists from Opus 4.7 on
(Sonnet 4.6 refuses it: "This model does not support effort level 'xhigh'. Supported levels:
high, low, max, medium.") and is `max` on the 4.6 models, `max` from the 4.6 models on and
`high` on Opus 4.5, the first model with an effort, and the models before (Sonnet 4.5, Haiku 4.5)
are sent none: a route or a fallback from a newer Claude is answered, not refused.

The other way, an Anthropic client's `output_config.effort` (Claude Code's effort setting) to a
`reasoning = true` deployment goes as `reasoning_effort`: `low`, `medium` and `high` as they
are, `xhigh` and `max` as `high` (the highest level every OpenAI reasoning model takes). Its
`thinking` has no OpenAI form (a budget of tokens is not a level) and is left out, as before.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.claude_versions import claude_version

_FIRST_WITH_EFFORT = (4, 6)
_FIRST_WITH_XHIGH = (4, 7)
_EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high"}
_REASONING_EFFORTS = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}


def claude_effort(reasoning_effort: object, model: str) -> str | None:
    """The `output_config.effort` for OpenAI's `reasoning_effort` on the Claude model `model`
    names, or None when none is sent."""
    if not isinstance(reasoning_effort, str):
        return None
    version = claude_version(model)
    if version is None or version < _FIRST_WITH_EFFORT:
        return None
    if reasoning_effort == "xhigh":
        return "xhigh" if version >= _FIRST_WITH_XHIGH else "max"
    if reasoning_effort == "max":
        return "max"
    return _EFFORTS.get(reasoning_effort)


_ALL_LEVELS = frozenset({"low", "medium", "high", "xhigh", "max"})
_LEVELS_4_6 = frozenset({"low", "medium", "high", "max"})
_LEVELS_OPUS_4_5 = frozenset({"low", "medium", "high"})
# A level a model does not take, as the nearest one below it that it may.
_LOWER = {"xhigh": "max", "max": "high"}


def effort_levels(model: str) -> frozenset[str] | None:
    """The effort levels the Claude model `model` names takes (empty: none); None when its
    name does not say which Claude it is."""
    version = claude_version(model)
    if version is None:
        return None
    if version >= _FIRST_WITH_XHIGH:
        return _ALL_LEVELS
    if version >= _FIRST_WITH_EFFORT:
        return _LEVELS_4_6
    if version == (4, 5) and "opus" in model.lower():
        return _LEVELS_OPUS_4_5
    return frozenset()


def with_effort_for(upstream: JSON, model: str) -> None:
    """Make the effort of the Anthropic request `upstream` one `model` takes: the nearest level
    below it, or none (the config's other settings are kept; the client's is not changed)."""
    config = upstream.get("output_config")
    effort = config.get("effort") if type(config) is dict else None
    levels = effort_levels(model)
    if not isinstance(effort, str) or levels is None or effort in levels:
        return
    assert type(config) is dict
    while effort is not None and effort not in levels:
        effort = _LOWER.get(effort)
    kept = {name: value for name, value in config.items() if name != "effort"}
    if effort is not None:
        kept["effort"] = effort
    if kept:
        upstream["output_config"] = kept
    else:
        del upstream["output_config"]


def openai_reasoning_effort(output_config: object) -> str | None:
    """The `reasoning_effort` for an Anthropic request's `output_config`, or None."""
    if type(output_config) is not dict:
        return None
    effort = output_config.get("effort")
    return _REASONING_EFFORTS.get(effort) if isinstance(effort, str) else None
