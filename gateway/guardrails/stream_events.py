"""Events a stream guard writes itself, in the client's wire format: the delta that releases
what an Anthropic window held, and the end of an OpenAI chunk kept back for a verdict."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.guardrails.stream_windows import TEXT, Key
from gateway.sse import encode_event

# Anthropic: the window key of a thinking block's text (TEXT for a text block's, a call index
# for a tool call's `partial_json`).
THINKING = -2


def anthropic_delta(key: Key, text: str) -> bytes:
    """A `content_block_delta` carrying `text` for the window `key`."""
    if key[1] == TEXT:
        delta = {"type": "text_delta", "text": text}
    elif key[1] == THINKING:
        delta = {"type": "thinking_delta", "thinking": text}
    else:
        delta = {"type": "input_json_delta", "partial_json": text}
    event = {"type": "content_block_delta", "index": key[0], "delta": delta}
    return encode_event(orjson.dumps(event), "content_block_delta")


# What a chat choice's finish chunk carries in place of its text (a legacy completion's:
# `{"text": "", "logprobs": None}`).
CHAT_EMPTY: dict[str, Any] = {"delta": {}}


def split_finish(
    parsed: dict[str, Any], empty: dict[str, Any] = CHAT_EMPTY
) -> tuple[bytes | None, bytes]:
    """An OpenAI chunk whose choices finish -> the chunk without its finish reasons and usage
    (None when nothing else is left in it), and a chunk with only those (their text fields
    `empty`)."""
    ended = [
        c for c in parsed["choices"] if isinstance(c, dict) and c.get("finish_reason") is not None
    ]
    last = {k: v for k, v in parsed.items() if k != "choices"}
    last["choices"] = [{**c, **empty} for c in ended]
    parsed.pop("usage", None)
    for choice in ended:
        choice["finish_reason"] = None
    rest = any(
        not isinstance(c, dict) or any(c.get(name) for name in empty) for c in parsed["choices"]
    )
    return (encode_event(orjson.dumps(parsed)) if rest else None), encode_event(orjson.dumps(last))
