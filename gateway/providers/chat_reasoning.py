"""The reasoning a chat server puts beside its answer, read the same way by every translation
that carries it to another wire (a Responses `reasoning` item, an Anthropic `thinking` block)."""

from __future__ import annotations

from gateway.json_types import JSON

# `reasoning_content`: DeepSeek, vLLM before 0.10; `reasoning`: vLLM since, OpenRouter, Ollama.
REASONING_FIELDS = ("reasoning_content", "reasoning")


def reasoning_text(message: JSON) -> str | None:
    """The reasoning text of a chat message or chunk delta, None when it carries none."""
    for name in REASONING_FIELDS:
        value = message.get(name)
        if isinstance(value, str) and value:
            return value
    return None
