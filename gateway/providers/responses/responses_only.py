"""The models OpenAI serves through the Responses API only, known by name: the codex models,
the pro models, deep research and computer use. Their chat completions answer 404 "This model
is only supported in v1/responses and not in v1/chat/completions."; the gateway serves their
chat and Anthropic clients through the Responses API instead (a deployment's `api = "auto"`),
and the mock provider refuses them on chat as OpenAI does."""

from __future__ import annotations

import functools
import re

_RESPONSES_ONLY = re.compile(
    r"codex|(?:^|[-_/.])(?:o\d+|gpt-[\d.]+)-pro\b|deep-research|computer-use", re.IGNORECASE
)
# OpenAI's words for a chat completion asked of one of them (a 404, `param: "model"`).
CHAT_REFUSAL = "This model is only supported in v1/responses and not in v1/chat/completions."


@functools.lru_cache(maxsize=1024)
def responses_only_model(name: str) -> bool:
    """Whether the model `name` (a deployment's) is one OpenAI serves through Responses only."""
    return _RESPONSES_ONLY.search(name) is not None
