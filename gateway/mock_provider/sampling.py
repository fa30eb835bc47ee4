"""The sampling settings the mock's Claude models refuse, as Anthropic's API answers them: Claude
Opus 4.1 and the 4.5 / 4.6 models take `temperature` or `top_p`, not both; Opus 4.7 and later
take none of `temperature`, `top_p` and `top_k`."""

from __future__ import annotations

from typing import Any

ONE_SAMPLING_SETTING = (
    "claude-opus-4-1", "claude-opus-4-5", "claude-opus-4-6", "claude-sonnet-4-5",
    "claude-sonnet-4-6", "claude-haiku-4-5",
)  # fmt: skip
NO_SAMPLING_SETTINGS = ("claude-opus-4-7", "claude-opus-4-8", "claude-fable-5")


def sampling_refusal(model: str, body: dict[str, Any]) -> str | None:
    """The message of the 400 Anthropic answers when `model` refuses the sampling settings of
    `body`, or None."""
    if model.startswith(ONE_SAMPLING_SETTING) and "temperature" in body and "top_p" in body:
        return (
            "`temperature` and `top_p` cannot both be specified for this model. "
            "Please use only one."
        )
    if model.startswith(NO_SAMPLING_SETTINGS):
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                return f"`{name}` is deprecated for this model."
    return None
