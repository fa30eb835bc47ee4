"""A legacy completion's cache entry in the other form (`POST /v1/completions`): a
`text_completion` answer replayed as the chunks a stream of it would be, and a stream's chunks
assembled into one answer. Both are `text_completion` objects, as OpenAI and vLLM send them:
`{"object": "text_completion", "choices": [{"text", "index", "logprobs", "finish_reason"}]}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from gateway.sse import encode_event

TEXT_COMPLETION = "text_completion"
# The fields of the answer every chunk repeats.
_HEAD = ("id", "created", "model", "system_fingerprint")
# A legacy completion's `logprobs`: one list per field, token by token.
_LOGPROB_LISTS = ("tokens", "token_logprobs", "top_logprobs", "text_offset")


def completion_stream_to_json(chunks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The decoded chunks of a legacy completion stream -> one `text_completion`: each
    choice's text, logprobs and finish reason (by `index`), and the usage chunk's usage."""
    result: dict[str, Any] = {"object": TEXT_COMPLETION}
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for name in _HEAD:
            if name in chunk and name not in result:
                result[name] = chunk[name]
        if chunk.get("usage"):
            result["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or ():
            index = choice.get("index", 0)
            slot = choices.setdefault(
                index, {"text": "", "index": index, "logprobs": None, "finish_reason": None}
            )
            slot["text"] += choice.get("text") or ""
            _add_logprobs(slot, choice.get("logprobs"))
            if choice.get("finish_reason"):
                slot["finish_reason"] = choice["finish_reason"]
    result["choices"] = [choices[i] for i in sorted(choices)]
    return result


def _add_logprobs(slot: dict[str, Any], logprobs: object) -> None:
    """A chunk's `logprobs` (a list per field) appended to its choice's."""
    if not isinstance(logprobs, dict):
        return
    into = slot["logprobs"] or {name: [] for name in _LOGPROB_LISTS}
    for name in _LOGPROB_LISTS:
        if isinstance(logprobs.get(name), list):
            into[name] = into[name] + logprobs[name]
    slot["logprobs"] = into


def completion_json_to_stream(body: dict[str, Any], include_usage: bool) -> list[bytes]:
    """A `text_completion` replayed as a stream: per choice a chunk with its text (and
    logprobs), then one with its finish reason; the usage chunk (`choices: []`) when
    `include_usage`, as OpenAI sends it (every other chunk then says `"usage": null`)."""
    head = {name: body[name] for name in _HEAD if name in body}
    base = {"object": TEXT_COMPLETION, **head}
    extra: dict[str, Any] = {"usage": None} if include_usage else {}
    out: list[bytes] = []
    for choice in body.get("choices") or ():
        index = choice.get("index", 0)
        text = {
            "text": choice.get("text") or "",
            "index": index,
            "logprobs": choice.get("logprobs"),
            "finish_reason": None,
        }
        ending = {
            "text": "",
            "index": index,
            "logprobs": None,
            "finish_reason": choice.get("finish_reason"),
        }
        for part in (text, ending):
            out.append(encode_event(orjson.dumps({**base, "choices": [part], **extra})))
    if include_usage and body.get("usage"):
        out.append(encode_event(orjson.dumps({**base, "choices": [], "usage": body["usage"]})))
    out.append(b"data: [DONE]\n\n")
    return out
