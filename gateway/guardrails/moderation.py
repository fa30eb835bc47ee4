"""`type = "moderation"`: ask a moderation model through the gateway's own routing.

The model is any `[[models]]` name (so it gets the same deployments, retries, fallbacks and
breakers as client traffic). It is asked with a short rubric to answer one word, FLAGGED or
SAFE; any other answer, or a failed call, is an error and follows the guardrail's `on_error`.
Cheap local checks (`toxicity`) and this accurate remote one can be combined in one policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Finding, GuardrailUnavailable

# Asks the gateway's own routing for a chat completion (the body names the model); returns the
# answer's parsed JSON. Given by the pipeline, so the guardrail knows nothing of it.
Complete = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]

RUBRIC = (
    "You are a content moderator. Read the user's text and decide whether it contains harassment, "
    "hate, threats or incitement to violence, sexual content involving minors, encouragement of "
    "self-harm, or instructions for serious harm. Answer with exactly one word: FLAGGED or SAFE."
)
MAX_CHARS = 8000


def parse_verdict(answer: str) -> bool:
    """True for FLAGGED (or UNSAFE), False for SAFE; anything else is an error."""
    words = answer.strip().split(None, 1)
    first = words[0].strip(".:!*\"'").upper() if words else ""
    if first in ("FLAGGED", "UNSAFE"):
        return True
    if first == "SAFE":
        return False
    raise GuardrailUnavailable(f"the moderation model gave no verdict: {answer[:60]!r}")


class ModerationCheck:
    def __init__(self, config: GuardrailConfig) -> None:
        assert config.model is not None
        self.model = config.model

    def request_body(self, text: str) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": RUBRIC},
                {"role": "user", "content": text[:MAX_CHARS]},
            ],
            "max_tokens": 5,
            "temperature": 0,
        }

    async def scan(self, text: str, complete: Complete) -> list[Finding]:
        """FLAGGED -> one finding over the whole text; a failed call or no verdict raises
        GuardrailUnavailable (the guardrail's `on_error` decides)."""
        try:
            data = await complete(self.request_body(text))
        except GuardrailUnavailable:
            raise
        except Exception as exc:
            raise GuardrailUnavailable(f"moderation call failed: {exc}") from exc
        return [Finding("MODERATION_FLAGGED", 0, len(text))] if parse_verdict(_answer(data)) else []


def _answer(data: dict[str, Any] | None) -> str:
    """The first choice's message text of a chat completion ("" when there is none)."""
    choices = (data or {}).get("choices") or [{}]
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if isinstance(message, dict) and isinstance(message.get("content"), str):
        return str(message["content"])
    return ""
