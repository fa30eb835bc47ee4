"""Mid-conversation system messages: a `role: "system"` entry in a Messages request's
`messages` (Claude Opus 4.8's; Claude Code sends them from 2.1.154 on, whatever the model), for
a model that does not take them.

Claude Opus 4.8 and later take them where they stand, after a user turn ("instructions updated
mid-conversation without invalidating the prompt cache"). The Claude models before it refuse
them ("role 'system' is not supported on this model"), as do Anthropic-compatible servers
(DeepSeek's: "messages[1].role: unknown variant `system`, expected `user` or `assistant`"), and
OpenAI-format upstreams have no such turn. So for a model that does not take them (a Claude
before 4.8, or a name that does not say which Claude it is: `claude_versions`) each becomes a
user turn holding its text inside `<system>` tags (`system_turn`): the model still reads it as
the instruction it is, and a user turn after a user turn is one turn to Anthropic. What a
system turn holds besides text (Anthropic's `tool_addition` / `tool_removal` blocks, which need
the newer models too) is left out; a turn with no text is left out whole.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.claude_versions import claude_version

FIRST_TAKING = (4, 8)


def takes_system_turns(model: str) -> bool:
    """Whether the Claude model `model` names takes mid-conversation system messages."""
    version = claude_version(model)
    return version is not None and version >= FIRST_TAKING


def system_turns_for(upstream: JSON, model: str) -> None:
    """`upstream`'s system turns as user turns, unless `model` takes them."""
    messages = upstream.get("messages")
    if type(messages) is not list or takes_system_turns(model):
        return
    if not any(type(m) is dict and m.get("role") == "system" for m in messages):
        return  # (nearly every request: one key read per message)
    kept: list[object] = []
    for message in messages:
        if type(message) is dict and message.get("role") == "system":
            turn = system_turn(message.get("content"))
            if turn is not None:
                kept.append(turn)
        else:
            kept.append(message)
    upstream["messages"] = kept


def system_turn(content: object) -> JSON | None:
    """The user turn standing for a system turn of `content` (a string or blocks), or None
    when it holds no text. The last text block's `cache_control` stays with the text."""
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    texts = [
        b
        for b in (blocks if isinstance(blocks, list) else [])
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    ]
    text = "\n\n".join(str(b["text"]) for b in texts if b["text"])
    if not text:
        return None
    block: JSON = {"type": "text", "text": f"<system>\n{text}\n</system>"}
    cache = texts[-1].get("cache_control")
    if cache is not None:
        block["cache_control"] = cache
    return {"role": "user", "content": [block]}
