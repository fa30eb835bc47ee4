"""The mock's prefix check of the thinking blocks sent back, as the Claude models that bind
them to their conversation (Opus 5.5, Sonnet 5.5, Haiku 5.5, Fable 5.1 and 5.2, Mythos 5.1 and
5.2) answer: a block whose conversation before it changed is refused with Anthropic's 400
("... The block is bound to a different conversation. ..."), unless the request asks
`thinking.block_binding.prefix_mismatch_behavior: "drop_block"`.

The mock signs a block with a digest of what came before it (`bound_signature`: the system
prompt, the messages before the block's, the blocks before it in its message), so a test can
write the history Claude would have given it and change something before a block."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

# Also the models that take a system turn's per-turn controls (`claude_refusals`).
BINDING_MODELS = (
    "claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-fable-5-1",
    "claude-fable-5-2", "claude-mythos-5-1", "claude-mythos-5-2",
)  # fmt: skip
_THINKING_BLOCKS = ("thinking", "redacted_thinking")


def bound_signature(system: object, before: list[Any], blocks_before: list[Any]) -> str:
    """The signature the mock gives a thinking block after `system`, the messages `before` its
    message, and the blocks `blocks_before` it in that message."""
    prefix = orjson.dumps([system, before, blocks_before], option=orjson.OPT_SORT_KEYS)
    return base64.b64encode(hashlib.sha256(prefix).digest()).decode()


def binding_refusal(model: str, body: dict[str, Any]) -> str | None:
    """Anthropic's 400 for a thinking block whose conversation changed, or None."""
    messages = body.get("messages")
    if not model.startswith(BINDING_MODELS) or not isinstance(messages, list):
        return None
    thinking = body.get("thinking")
    binding = thinking.get("block_binding") if isinstance(thinking, dict) else None
    if isinstance(binding, dict) and binding.get("prefix_mismatch_behavior") == "drop_block":
        return None
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") not in _THINKING_BLOCKS:
                continue
            signed = block.get("signature", block.get("data"))
            if signed != bound_signature(body.get("system"), messages[:i], content[:j]):
                return (
                    f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block. The "
                    "block is bound to a different conversation. Remove the block, or set "
                    '`thinking.block_binding.prefix_mismatch_behavior` to "drop_block".'
                )
    return None
