"""A chat server's reasoning as Anthropic `thinking` blocks, for an Anthropic client that asked
to see its model think, served by an OpenAI-format deployment (DeepSeek's thinking mode, a
reasoning model on vLLM, Ollama or OpenRouter: `chat_reasoning`).

A request with `thinking: {"type": "enabled" | "adaptive"}` (Claude Code's, LangChain's
`ChatAnthropic(thinking=...)`) gets the upstream's reasoning as a `thinking` block before the
answer's text, as Claude answers (a stream: `thinking_delta` events, then `signature_delta`);
`"display": "omitted"` gets the block with an empty `thinking`, as Claude gives it. Other
requests get no block: Anthropic shows thinking only to a request that enabled it.

A thinking block carries a `signature` by which Anthropic checks that it came from Claude
unchanged. The gateway's carry `GATEWAY_SIGNATURE`, which no Anthropic upstream accepts: a
request to one is sent without them (`thinking_for_claude`: a conversation that moved from
such a deployment to Claude, by a fallback or Claude Code's `/model`). To an OpenAI-format
upstream that takes the reasoning back (`reasoning_history`) their text goes as
`reasoning_content`, like Claude's own blocks.

A reasoning model served through the Responses API keeps its reasoning encrypted; its block's
signature carries it (`OPENAI_REASONING_PREFIX` and the sealed data, `chat_reasoning`), and a
request of the tool loop sends it back to that deployment (`carried_reasoning`).
"""

from __future__ import annotations

from typing import Literal

from gateway.json_types import JSON
from gateway.providers.anthropic.claude_versions import claude_version
from gateway.providers.anthropic.thinking import thinks_by_default, with_thinking_for

GATEWAY_SIGNATURE = "llm-gateway:chat-reasoning:v1"
OPENAI_REASONING_PREFIX = "llm-gateway:openai-reasoning:v1:"
_GATEWAYS = "llm-gateway:"  # what every signature the gateway makes begins with

ThinkingDisplay = Literal["shown", "omitted"]


def thinking_display(body: JSON) -> ThinkingDisplay | None:
    """How the Anthropic request `body` asked to see the model's thinking; None: not at all."""
    thinking = body.get("thinking")
    if type(thinking) is not dict or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    return "omitted" if thinking.get("display") == "omitted" else "shown"


def thinking_block(text: str, display: ThinkingDisplay, encrypted: str | None = None) -> JSON:
    """The block of one reasoning text, as `display` shows it; with the (sealed) `encrypted`
    reasoning it stands for, when there is one."""
    return {
        "type": "thinking",
        "thinking": text if display == "shown" else "",
        "signature": thinking_signature(encrypted),
    }


def thinking_signature(encrypted: str | None) -> str:
    """The signature of a gateway's thinking block: the encrypted reasoning it carries."""
    return GATEWAY_SIGNATURE if encrypted is None else OPENAI_REASONING_PREFIX + encrypted


def carried_reasoning(block: JSON) -> str | None:
    """The (sealed) encrypted reasoning a gateway's thinking block carries, if any."""
    signature = block.get("signature")
    if isinstance(signature, str) and signature.startswith(OPENAI_REASONING_PREFIX):
        return signature[len(OPENAI_REASONING_PREFIX) :] or None
    return None


def thinking_for_claude(upstream: JSON, model: str) -> None:
    """Make the thinking of `upstream` (an Anthropic request to Claude) what Claude takes; the
    client's body, which shares its messages, is left as it was.

    - The gateway's thinking blocks are taken out of the assistant messages, and, to a model
      named as a Claude, the thinking blocks with nothing signed (no `signature`, or an empty
      one), which
      Anthropic refuses ("messages.1.content.0.thinking.signature: Field required"): a client
      replaying what another proxy or an Anthropic-compatible server (DeepSeek's) gave it. A
      message that had nothing else goes too: Anthropic refuses an empty one, and joins the
      turns of one role that then meet.
    - In a tool loop with thinking on, Anthropic wants the assistant message before the last
      tool results to start with a thinking block ("a final `assistant` message must start with
      a thinking block ... To avoid this requirement, disable `thinking`"). When it does not
      (another model made it: its gateway's block went, or it did not think; a fallback, or
      Claude Code's `/model` mid-loop), this one request is sent without `thinking`: to the
      Claude 5 models (`model`), which think when a request says nothing of it, with thinking
      off in their word (`thinking.with_thinking_for`; the models that always think cannot be
      asked).
    """
    messages = upstream.get("messages")
    if type(messages) is not list:
        return
    claude = claude_version(model) is not None
    if any(_holds_unusable_thinking(message, claude) for message in messages):
        messages = [
            kept for message in messages if (kept := _without_unusable(message, claude)) is not None
        ]
        upstream["messages"] = messages
    thinking = upstream.get("thinking")
    by_default = thinks_by_default(model)
    on = (type(thinking) is dict and thinking.get("type") in ("enabled", "adaptive")) or (
        thinking is None and by_default
    )
    if on and len(messages) >= 2 and loop_without_thought(messages[-2], messages[-1]):
        if by_default:
            upstream["thinking"] = {"type": "disabled"}
            with_thinking_for(upstream, model)
        else:
            del upstream["thinking"]


def _without_unusable(message: object, claude: bool) -> object | None:
    """`message` without the thinking blocks Claude would refuse; None when nothing else is
    left."""
    if not _holds_unusable_thinking(message, claude):
        return message
    assert type(message) is dict
    blocks = [block for block in message["content"] if not _unusable(block, claude)]
    return {**message, "content": blocks} if blocks else None


def loop_without_thought(assistant: object, last: object) -> bool:
    """Whether `last` returns tool results to an `assistant` message that does not start with
    a thinking block."""
    if type(last) is not dict or last.get("role") != "user" or type(assistant) is not dict:
        return False
    content = last.get("content")
    if type(content) is not list or not any(
        type(block) is dict and block.get("type") == "tool_result" for block in content
    ):
        return False
    said = assistant.get("content")
    if assistant.get("role") != "assistant" or type(said) is not list or not said:
        return False
    first = said[0]
    return type(first) is not dict or first.get("type") not in ("thinking", "redacted_thinking")


def _holds_unusable_thinking(message: object, claude: bool) -> bool:
    # Asked of every message of every request to Claude (Claude Code sends hundreds, each
    # with its thinking block): a signed block of Claude's is passed over without a call.
    if type(message) is not dict or message.get("role") != "assistant":
        return False
    content = message.get("content")
    if type(content) is not list:
        return False
    for block in content:
        if type(block) is dict and block.get("type") == "thinking":
            signature = block.get("signature")
            if type(signature) is str and signature and not signature.startswith(_GATEWAYS):
                continue  # Claude's own (nearly every block): read here, no call
            if _unusable(block, claude):
                return True
    return False


def _unusable(block: object, claude: bool) -> bool:
    """Whether the block is one Claude refuses: a gateway's thinking block, or, to a Claude
    (`claude`), a thinking block with nothing signed."""
    if type(block) is not dict or block.get("type") != "thinking":
        return False
    signature = block.get("signature")
    if type(signature) is not str or not signature:
        return claude
    return signature.startswith(_GATEWAYS)
