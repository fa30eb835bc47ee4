"""Claude's thinking carried through an OpenAI client's tool loop (an OpenAI client, an
Anthropic upstream).

A thinking Claude wants the assistant message before a tool loop's results to start with the
thinking blocks it signed ("a final `assistant` message must start with a thinking block"),
and the Claude 5 models think when a request says nothing of it (Fable 5, Mythos 5 and Opus
5.5 cannot be asked not to). An OpenAI client has no place for a signed block, so the answer
carries each one as an entry of the message's `reasoning_details`, in OpenRouter's form for
Claude (`format` "anthropic-claude-v1"): a `thinking` block as `{"type": "reasoning.text",
"text", "signature"}`, a `redacted_thinking` block as `{"type": "reasoning.encrypted",
"data"}`; its text also goes as `reasoning_content` when Claude showed it. A client that sends
the message back as it came (the openai SDK's message object, `model_dump()`, LiteLLM's and
OpenRouter's clients) sends the entries back, and the request gives Claude its blocks again.

A Responses client (Codex, the openai SDK's `responses`) that asks for the encrypted reasoning
(`include: ["reasoning.encrypted_content"]`) gets each entry as a `reasoning` item's
`encrypted_content` (`as_encrypted_content`: the entry's JSON, base64, after a prefix naming
the format), which it sends back in its next input like OpenAI's; the request's translation
reads it back as the entry (`entry_of_encrypted_content`) on the next assistant message.

A signature is Claude's for the deployment that made it: it is sealed with the deployment
(`chat_reasoning.sealed`), and goes back to that deployment only; another one's entries are
left out (a chat upstream is sent none: `chat_reasoning.without_sealed_reasoning`).
"""

from __future__ import annotations

import base64
import binascii

import orjson

from gateway.json_types import JSON
from gateway.providers.chat_reasoning import ENCRYPTED_TYPE, sealed, unsealed

FORMAT = "anthropic-claude-v1"
TEXT_TYPE = "reasoning.text"
THINKING_TYPES = ("thinking", "redacted_thinking")
_CONTENT_PREFIX = f"{FORMAT}:"  # a Responses item's `encrypted_content` holding an entry


def thinking_detail(block: JSON, origin: str, index: int) -> JSON | None:
    """The `reasoning_details` entry carrying the Claude block `block` (sealed with `origin`),
    or None when it is no thinking block, has nothing signed, or there is no `origin`."""
    kind = block.get("type")
    if not origin or kind not in THINKING_TYPES:
        return None
    if kind == "redacted_thinking":
        data = block.get("data")
        if not isinstance(data, str) or not data:
            return None
        return {
            "type": ENCRYPTED_TYPE,
            "data": sealed(origin, data),
            "format": FORMAT,
            "index": index,
        }
    signature = block.get("signature")
    if not isinstance(signature, str) or not signature:
        return None
    text = block.get("thinking")
    return {
        "type": TEXT_TYPE,
        "text": text if isinstance(text, str) else "",
        "signature": sealed(origin, signature),
        "format": FORMAT,
        "index": index,
    }


def carried_blocks(message: JSON, origin: str) -> list[JSON]:
    """The Claude thinking blocks the chat message `message` carries back to the deployment
    sealed as `origin`, in order; entries of other deployments and formats are left out."""
    details = message.get("reasoning_details")
    if not origin or type(details) is not list:
        return []
    blocks: list[JSON] = []
    for detail in details:
        if type(detail) is not dict or detail.get("format") != FORMAT:
            continue
        kind = detail.get("type")
        if kind == TEXT_TYPE:
            signature = detail.get("signature")
            signed = unsealed(origin, signature) if isinstance(signature, str) else None
            text = detail.get("text")
            if signed:
                thinking = text if isinstance(text, str) else ""
                blocks.append({"type": "thinking", "thinking": thinking, "signature": signed})
        elif kind == ENCRYPTED_TYPE:
            data = detail.get("data")
            redacted = unsealed(origin, data) if isinstance(data, str) else None
            if redacted:
                blocks.append({"type": "redacted_thinking", "data": redacted})
    return blocks


def without_thinking(blocks: list[JSON]) -> list[JSON]:
    """`blocks` without their thinking blocks."""
    return [block for block in blocks if block.get("type") not in THINKING_TYPES]


def claude_entries(message: JSON) -> list[JSON]:
    """The entries of the chat message (or delta) `message`'s `reasoning_details` that carry
    Claude's thinking blocks."""
    details = message.get("reasoning_details")
    return [
        detail
        for detail in (details if type(details) is list else ())
        if type(detail) is dict and detail.get("format") == FORMAT
    ]


def as_encrypted_content(entry: JSON) -> str:
    """The `encrypted_content` of the Responses `reasoning` item carrying `entry`."""
    kept = {key: value for key, value in entry.items() if key != "index"}
    return _CONTENT_PREFIX + base64.urlsafe_b64encode(orjson.dumps(kept)).decode()


def entry_of_encrypted_content(encrypted: object) -> JSON | None:
    """The `reasoning_details` entry a `reasoning` item's `encrypted_content` carries, or None
    (another format: OpenAI's own; or not readable)."""
    if not isinstance(encrypted, str) or not encrypted.startswith(_CONTENT_PREFIX):
        return None
    try:
        entry = orjson.loads(base64.urlsafe_b64decode(encrypted[len(_CONTENT_PREFIX) :]))
    except (binascii.Error, ValueError):
        return None
    return entry if type(entry) is dict and entry.get("format") == FORMAT else None
