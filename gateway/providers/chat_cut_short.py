"""The answer in place of an OpenAI reasoning model's refusal to be cut short.

On chat completions, OpenAI's reasoning models (gpt-5 and later, the o-series) refuse a limit
they spend on thinking before they wrote anything: a 400 "Could not finish the message because
max_tokens or model output limit was reached. Please try again with higher max_tokens." The
Responses API answers the same request with the empty answer the limit cut (`incomplete`,
`max_output_tokens`), as Anthropic's does (`stop_reason: "max_tokens"`). Clients check a model
that way: Claude Code's `/model` sends `max_tokens: 1` and calls the model unusable if that
throws. So the gateway answers that refusal with the chat completion a limit cut before any
text (`content: ""`, `finish_reason: "length"`, no usage: the gateway counts the prompt), JSON or
a stream, which each translation then renders in its client's format (`ran_out_of_tokens`
says when; the routing's attempt does it).
"""

from __future__ import annotations

import secrets
import time

import orjson

_MARKER = "could not finish the message because max_tokens or model output limit was reached"


def ran_out_of_tokens(status: int, message: str) -> bool:
    """Whether an upstream's refusal is a chat reasoning model's limit spent on thinking."""
    return status == 400 and _MARKER in message.lower()


def cut_short_answer(model: str, stream: bool) -> tuple[dict[str, str], bytes]:
    """The chat completion (or its stream) cut by its limit before any text: headers, body."""
    common = {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "created": int(time.time()),
        "model": model,
    }
    if not stream:
        message = {"role": "assistant", "content": ""}
        choice = {"index": 0, "message": message, "finish_reason": "length"}
        answer = {**common, "object": "chat.completion", "choices": [choice]}
        return {"content-type": "application/json"}, orjson.dumps(answer)
    chunk = {**common, "object": "chat.completion.chunk"}
    opening = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    closing = {"index": 0, "delta": {}, "finish_reason": "length"}
    events = [{**chunk, "choices": [opening]}, {**chunk, "choices": [closing]}]
    body = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    return {"content-type": "text/event-stream"}, body
