"""What the mock's newer Claude models refuse, as Anthropic's API answers them: Claude Opus 4.1
and the 4.5 / 4.6 models take `temperature` or `top_p`, not both; Opus 4.7 and later take none of
`temperature`, `top_p` and `top_k`, and think only adaptively (`thinking.type` "enabled" is
refused); the models before 4.6 refuse adaptive thinking ("adaptive thinking is not
supported on this model"); an effort level a model lacks is refused (`xhigh` before Opus 4.7,
`max` on Opus 4.5, any level before it); a mid-conversation system message (`role: "system"`
in `messages`) is refused by every model before Opus 4.8.

The Claude 5 generation's changes: they think when a request says nothing of it (so a tool
loop without its thinking block is refused as with thinking asked); Fable 5, Mythos 5 and Opus
5.5 refuse thinking off
(`disabled`, Anthropic's words); Sonnet 5.5 refuses `disabled` for its own `between_tools`, which
the others do not know; Opus 5 and Sonnet 5.5 refuse thinking off at effort `xhigh` or `max`;
Opus 5.5, Sonnet 5.5, Fable 5.1 and Mythos 5.1 refuse a forced `tool_choice` (the mock's words
for those three); every model refuses an `output_config.format` schema with an object not
closed (Anthropic's words); and the models that bind thinking blocks to their conversation
refuse one whose conversation changed (`thinking_binding`); the models before Fable 5.1 and the
5.5 models (the same ones) refuse a system turn's per-turn `output_config` and `clear_at`.

With thinking asked, every model refuses what thinking cannot go with (a `temperature` other
than 1, `top_k`, a `top_p` below 0.95, a forced tool: `thinking_compatibility_refusal`).

Every model refuses what Anthropic refuses of thinking blocks sent back: a block whose
`signature` Claude did not make ("Invalid `signature` in `thinking` block"; the mock signs
nothing and takes a base64 signature, the form of Claude's, as one of them), and, with thinking
on, a tool loop whose last assistant message does not start with a thinking block; and prompt
cache breakpoints Anthropic refuses (`cache_breakpoints`)."""

from __future__ import annotations

import re
from typing import Any

from gateway.mock_provider.cache_breakpoints import breakpoints_refusal
from gateway.mock_provider.thinking_binding import BINDING_MODELS, binding_refusal
from gateway.providers.anthropic.claude_versions import claude_version

ONE_SAMPLING_SETTING = (
    "claude-opus-4-1", "claude-opus-4-5", "claude-opus-4-6", "claude-sonnet-4-5",
    "claude-sonnet-4-6", "claude-haiku-4-5",
)  # fmt: skip
NO_SAMPLING_SETTINGS = (
    "claude-opus-4-7", "claude-opus-4-8", "claude-fable-5", "claude-sonnet-5", "claude-opus-5",
)  # fmt: skip
THINKING_BY_DEFAULT = (
    "claude-opus-5", "claude-sonnet-5", "claude-fable-5", "claude-mythos-5", "claude-haiku-5",
)  # fmt: skip
ALWAYS_THINKING = ("claude-opus-5-5", "claude-fable-5", "claude-mythos-5")
BETWEEN_TOOLS = ("claude-sonnet-5-5",)
OFF_UP_TO_HIGH = ("claude-opus-5", "claude-sonnet-5-5")  # (after ALWAYS_THINKING)
FORCED_TOOLS_REFUSED = (
    "claude-opus-5-5", "claude-sonnet-5-5", "claude-fable-5-1", "claude-mythos-5-1",
)  # fmt: skip
MANUAL_THINKING_ONLY = (
    "claude-opus-4-1", "claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5",
    "claude-sonnet-4-2", "claude-opus-4-2",
)  # fmt: skip
_ADAPTIVE_ONLY = (
    '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
    '"output_config.effort" to control thinking behavior.'
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_THINKING_FIRST = (
    "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
    "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
    "include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. "
    "Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)


def claude_refusal(model: str, body: dict[str, Any]) -> str | None:
    """The message of the 400 Anthropic answers when `model` refuses what `body` asks, or
    None."""
    refused = (
        thinking_refusal(model, body)
        or system_turn_refusal(model, body)
        or breakpoints_refusal(body)
        or thinking_off_refusal(model, body)
        or forced_tool_refusal(model, body)
        or thinking_compatibility_refusal(body)
        or output_format_refusal(body.get("output_config"))
        or binding_refusal(model, body)
    )
    if refused is not None:
        return refused
    if model.startswith(ONE_SAMPLING_SETTING) and "temperature" in body and "top_p" in body:
        return (
            "`temperature` and `top_p` cannot both be specified for this model. "
            "Please use only one."
        )
    thinking = body.get("thinking")
    adaptive = isinstance(thinking, dict) and thinking.get("type") == "adaptive"
    if adaptive and model.startswith(MANUAL_THINKING_ONLY):
        return "adaptive thinking is not supported on this model"
    refused = effort_refusal(model, body.get("output_config"))
    if refused is not None:
        return refused
    if model.startswith(NO_SAMPLING_SETTINGS):
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                return f"`{name}` is deprecated for this model."
        if isinstance(thinking, dict) and thinking.get("type") == "enabled":
            return _ADAPTIVE_ONLY
    return None


# The effort levels of the models that do not take all five (Anthropic's effort page).
_EFFORT_LEVELS = {
    "claude-opus-4-6": ("high", "low", "max", "medium"),
    "claude-sonnet-4-6": ("high", "low", "max", "medium"),
    "claude-opus-4-5": ("high", "low", "medium"),
}


def effort_refusal(model: str, output_config: object) -> str | None:
    """Anthropic's 400 for an effort level `model` does not take, or None. (Its words for a
    level a model lacks; the models before the effort parameter are refused in the mock's.)"""
    effort = output_config.get("effort") if isinstance(output_config, dict) else None
    if not isinstance(effort, str):
        return None
    levels = next((v for k, v in _EFFORT_LEVELS.items() if model.startswith(k)), None)
    if levels is None and model.startswith(MANUAL_THINKING_ONLY):
        return "This model does not support the effort parameter."
    if levels is not None and effort not in levels:
        return (
            f"This model does not support effort level '{effort}'. "
            f"Supported levels: {', '.join(levels)}."
        )
    return None


def system_turn_refusal(model: str, body: dict[str, Any]) -> str | None:
    """Anthropic's 400 for a mid-conversation system message to a model before Opus 4.8 (and
    the mock's, in Anthropic's words, for a name that is no Claude: as Anthropic-compatible
    servers refuse it), and for its per-turn controls (`output_config`, `clear_at`) to a model
    before Fable 5.1 and the 5.5 models."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    version = claude_version(model)
    takes_turns = version is not None and version >= (4, 8)
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "system":
            continue
        if not takes_turns:
            return f"messages.{i}.role: role 'system' is not supported on this model"
        for control in ("output_config", "clear_at"):
            if control in message and not model.startswith(BINDING_MODELS):
                return f"messages.{i}.{control}: Extra inputs are not permitted"
    return None


def thinking_refusal(model: str, body: dict[str, Any]) -> str | None:
    """Anthropic's 400 for the thinking blocks `body` sends back, or None (thinking is on when
    asked, and for the Claude 5 models, `THINKING_BY_DEFAULT`, when not turned off)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else ()):
            if isinstance(block, dict) and block.get("type") == "thinking":
                signature = block.get("signature")
                if signature is None:
                    return f"messages.{i}.content.{j}.thinking.signature: Field required"
                if not isinstance(signature, str) or not _BASE64.fullmatch(signature):
                    return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    if not thinks(model, body) or len(messages) < 2 or not _tool_results(messages[-1]):
        return None
    last = messages[-2]
    content = last.get("content") if isinstance(last, dict) else None
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return None
    first = content[0].get("type")
    if first in ("thinking", "redacted_thinking"):
        return None
    index = len(messages) - 2
    return (
        f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
        f"`{first}`. {_THINKING_FIRST}"
    )


def thinks(model: str, body: dict[str, Any]) -> bool:
    """Whether `model` thinks on `body`: thinking asked, or (the Claude 5 models) not off."""
    thinking = body.get("thinking")
    on = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
    return on or (thinking is None and model.startswith(THINKING_BY_DEFAULT))


def _tool_results(message: object) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def thinking_off_refusal(model: str, body: dict[str, Any]) -> str | None:
    """The 400 for thinking turned off in a way `model` does not take, or None."""
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("disabled", "between_tools"):
        return None
    if model.startswith(ALWAYS_THINKING):
        return (
            f'"thinking.type.{kind}" is not supported for this model. Use '
            '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
        )
    if kind == "disabled" and model.startswith(BETWEEN_TOOLS):
        return (
            '"thinking.type.disabled" is not supported for this model. Use '
            '"thinking.type.between_tools" to turn off up-front thinking.'
        )
    if kind == "between_tools" and not model.startswith(BETWEEN_TOOLS):
        return (
            "thinking.type: Input tag 'between_tools' found using 'type' does not match any of "
            "the expected tags: 'adaptive', 'disabled', 'enabled'"
        )
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if model.startswith(OFF_UP_TO_HIGH) and effort in ("xhigh", "max"):
        return (
            f"\"thinking.type.{kind}\" is not supported at effort '{effort}' on this model. "
            "Use effort 'high' or lower, or adaptive thinking."
        )
    return None


def forced_tool_refusal(model: str, body: dict[str, Any]) -> str | None:
    """The 400 for a forced `tool_choice` to a model that refuses forced tool use, or None."""
    choice = body.get("tool_choice")
    forced = isinstance(choice, dict) and choice.get("type") in ("any", "tool")
    if not forced or not model.startswith(FORCED_TOOLS_REFUSED):
        return None
    return 'tool_choice: forced tool use is not supported for this model. Use "auto" or "none".'


def thinking_compatibility_refusal(body: dict[str, Any]) -> str | None:
    """Anthropic's 400 for what thinking asked (`enabled`, `adaptive`) cannot go with: a
    `temperature` other than 1, `top_k`, a `top_p` below 0.95, a forced tool (the mock's words
    for the sampling settings)."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    if body.get("temperature", 1) != 1:
        return "`temperature` may only be set to 1 when thinking is enabled."
    if body.get("top_k") is not None:
        return "`top_k` may not be set when thinking is enabled."
    top_p = body.get("top_p")
    if isinstance(top_p, (int, float)) and top_p < 0.95:
        return "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def output_format_refusal(output_config: object) -> str | None:
    """Anthropic's 400 for an `output_config.format` schema with an object not closed."""
    fmt = output_config.get("format") if isinstance(output_config, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    if _has_open_object(fmt.get("schema")):
        return (
            "output_config.format.schema: For 'object' type, 'additionalProperties' must be "
            "explicitly set to false"
        )
    return None


def _has_open_object(schema: object) -> bool:
    if isinstance(schema, list):
        return any(_has_open_object(item) for item in schema)
    if not isinstance(schema, dict):
        return False
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        return True
    return any(_has_open_object(value) for value in schema.values())
