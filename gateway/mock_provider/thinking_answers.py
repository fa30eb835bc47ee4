"""The thinking block a mock Claude answer starts with, as Claude's do when it thinks (thinking
asked, or, for the Claude 5 models, not turned off: `claude_refusals.thinks`).

Its text is shown when the request asked to see it (manual thinking, or `display:
"summarized"`), else empty, as the models since Opus 4.7 leave it out by default. Its
signature is base64, as Claude's: for the models that bind a block to its conversation, the
digest of what came before it (`thinking_binding.bound_signature`), so the block sent back
after a changed conversation is refused as Claude refuses it; for the others, a digest of the
conversation. A search's answer and a paused turn start with no block."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from gateway.mock_provider.claude_refusals import thinks
from gateway.mock_provider.thinking_binding import BINDING_MODELS, bound_signature

THOUGHT = "The user asked a question; a short answer will do."


def answer_thinking(model: str, body: dict[str, Any]) -> tuple[str, str] | None:
    """The text and signature of the thinking block `model`'s answer to `body` starts with,
    or None when it does not think."""
    if not thinks(model, body):
        return None
    thinking = body.get("thinking")
    shown = isinstance(thinking, dict) and (
        thinking.get("type") == "enabled" or thinking.get("display") == "summarized"
    )
    messages = body.get("messages")
    before = messages if isinstance(messages, list) else []
    if model.startswith(BINDING_MODELS):
        signature = bound_signature(body.get("system"), before, [])
    else:
        digest = hashlib.sha256(orjson.dumps([model, before], option=orjson.OPT_SORT_KEYS))
        signature = base64.b64encode(digest.digest()).decode()
    return (THOUGHT if shown else ""), signature
