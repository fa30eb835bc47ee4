"""`type = "moderation"`: ask a moderation model through the gateway's own routing.

The model is any `[[models]]` name (so it gets the same deployments, retries, fallbacks and
breakers as client traffic). It is asked with a short rubric to answer one word, FLAGGED or
SAFE; any other answer, or a failed call, is an error and follows the guardrail's `on_error`.
Cheap local checks (`toxicity`) and this accurate remote one can be combined in one policy.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Finding, GuardrailUnavailable

if TYPE_CHECKING:
    from gateway.pipeline.context import RequestContext
    from gateway.pipeline.services import Services

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

    async def scan(self, text: str, ctx: RequestContext, services: Services) -> list[Finding]:
        from gateway.pipeline.context import Endpoint, RequestContext

        model = ctx.runtime.config.models.get(self.model)
        if model is None:
            raise GuardrailUnavailable(f"moderation model '{self.model}' is not configured")
        sub = RequestContext(
            endpoint=Endpoint("/v1/chat/completions", "chat", "openai"),
            runtime=ctx.runtime,
            request_id=ctx.request_id + "-moderation",
            ts=time.time(),
            started=time.monotonic(),
            headers={},
            body=self.request_body(text),
            key=ctx.key,
            model_name=self.model,
            model=model,
        )
        try:
            await services.router.route(sub)
        except Exception as exc:
            raise GuardrailUnavailable(f"moderation call failed: {exc}") from exc
        answer = ""
        data = sub.response_json
        if isinstance(data, dict):
            choices = data.get("choices") or [{}]
            message = choices[0].get("message") if isinstance(choices[0], dict) else None
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                answer = message["content"]
        return [Finding("MODERATION_FLAGGED", 0, len(text))] if parse_verdict(answer) else []
