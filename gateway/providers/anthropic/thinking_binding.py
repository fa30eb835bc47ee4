"""Claude's preserved thinking, for the conversations that pass through the gateway.

Claude Opus 5.5, Sonnet 5.5, Haiku 5.5, Fable 5.1 and Mythos 5.1 (and their successors) bind
each thinking block to the conversation before it (Anthropic's prefix check): a block sent back
after anything before it changed is refused with a 400, "messages.1.content.0: Invalid
`signature` in `thinking` block. The block is bound to a different conversation. Remove the
block, or set `thinking.block_binding.prefix_mismatch_behavior` to \"drop_block\".", and the
same history fails again on every retry and every resume: the session is lost. Through a
gateway, a conversation's prefix changes for reasons its client cannot see: a prompt version
promoted mid-conversation, a guardrail's redaction, a route or a fallback to another
deployment, the gateway's own rewrites for the model (a forced tool's sentence:
`forced_tools`), a client of its own that re-renders its system prompt between turns.

So a request to those models that sends thinking blocks back goes with
`thinking.block_binding.prefix_mismatch_behavior: "drop_block"` (and the beta
`thinking-binding-controls-2026-08-01` beside the client's): a block whose prefix changed is
left out by Claude, which thinks again, and the conversation goes on. A request that sets its
own `block_binding` (`"error"` keeps the refusal) is sent as it is; so is one with thinking off
(`between_tools` takes no binding), and one to a provider whose `drop_betas` names the beta.
The model is known by its name (`claude_versions`).
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.claude_versions import from_version_on

BETA = "thinking-binding-controls-2026-08-01"
DROP_BLOCK: JSON = {"prefix_mismatch_behavior": "drop_block"}
# Each family's first model that checks the prefix of the thinking blocks sent back.
_FIRST_BINDING = {
    "opus": (5, 5),
    "sonnet": (5, 5),
    "haiku": (5, 5),
    "fable": (5, 1),
    "mythos": (5, 1),
}
_THINKING_BLOCKS = frozenset(("thinking", "redacted_thinking"))


def binds_thinking(model: str) -> bool:
    """Whether the Claude model `model` names checks the prefix of thinking blocks sent back."""
    return from_version_on(model, _FIRST_BINDING)


def with_block_binding(upstream: JSON, model: str, beta: str | None) -> str | None:
    """Ask `model` to drop, not refuse, the thinking blocks of `upstream` whose prefix changed
    (see the module doc); the `anthropic-beta` value to send with it (`beta`, the client's,
    unchanged when nothing is asked)."""
    thinking = upstream.get("thinking")
    if thinking is None:
        thinking = {"type": "adaptive"}
    if (
        type(thinking) is not dict
        or thinking.get("type") != "adaptive"
        or "block_binding" in thinking
        or not binds_thinking(model)
        or not _sends_thinking_back(upstream.get("messages"))
    ):
        return beta
    upstream["thinking"] = {**thinking, "block_binding": DROP_BLOCK}
    if beta is None:
        return BETA
    return beta if BETA in beta else f"{beta},{BETA}"


def with_binding_header(
    upstream: JSON, model: str, headers: dict[str, str], drop_betas: tuple[str, ...]
) -> None:
    """`with_block_binding` on `upstream`, its beta in `headers`, unless the provider's
    `drop_betas` names the beta (a server that refuses it: the blocks go as they are)."""
    if BETA in drop_betas:
        return
    beta = with_block_binding(upstream, model, headers.get("anthropic-beta"))
    if beta is not None:
        headers["anthropic-beta"] = beta


def _sends_thinking_back(messages: object) -> bool:
    if type(messages) is not list:
        return False
    for message in messages:
        content = message.get("content") if type(message) is dict else None
        if type(content) is list and message.get("role") == "assistant":
            for block in content:
                if type(block) is dict and block.get("type") in _THINKING_BLOCKS:
                    return True
    return False
