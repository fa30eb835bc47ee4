"""What the mock's newer Claude models refuse, as Anthropic's API answers them: Claude Opus 4.1
and the 4.5 / 4.6 models take `temperature` or `top_p`, not both; Opus 4.7 and later take none of
`temperature`, `top_p` and `top_k`, and think only adaptively (`thinking.type` "enabled" is
refused)."""

from __future__ import annotations

from typing import Any

ONE_SAMPLING_SETTING = (
    "claude-opus-4-1", "claude-opus-4-5", "claude-opus-4-6", "claude-sonnet-4-5",
    "claude-sonnet-4-6", "claude-haiku-4-5",
)  # fmt: skip
NO_SAMPLING_SETTINGS = (
    "claude-opus-4-7", "claude-opus-4-8", "claude-fable-5", "claude-sonnet-5", "claude-opus-5",
)  # fmt: skip
_ADAPTIVE_ONLY = (
    '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
    '"output_config.effort" to control thinking behavior.'
)


def claude_refusal(model: str, body: dict[str, Any]) -> str | None:
    """The message of the 400 Anthropic answers when `model` refuses what `body` asks, or
    None."""
    if model.startswith(ONE_SAMPLING_SETTING) and "temperature" in body and "top_p" in body:
        return (
            "`temperature` and `top_p` cannot both be specified for this model. "
            "Please use only one."
        )
    if model.startswith(NO_SAMPLING_SETTINGS):
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                return f"`{name}` is deprecated for this model."
        thinking = body.get("thinking")
        if isinstance(thinking, dict) and thinking.get("type") == "enabled":
            return _ADAPTIVE_ONLY
    return None
