"""A chat completion's cache entry in the other form (`POST /v1/chat/completions`): a stored
stream's `chat.completion.chunk` events assembled into one `chat.completion`, and a
`chat.completion` replayed as the chunks OpenAI would have streamed."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.cache.events import decoded_events
from gateway.sse import encode_event

# The fields of the answer every chunk repeats: OpenAI's `service_tier` (the tier that served
# it, billed accordingly) and `system_fingerprint` too.
_HEAD = ("id", "created", "model", "system_fingerprint", "service_tier")


def openai_stream_to_json(chunks: list[str]) -> dict[str, Any]:
    """Assemble OpenAI chat.completion.chunk events into one chat.completion."""
    choices: dict[int, dict[str, Any]] = {}
    result: dict[str, Any] = {"object": "chat.completion"}
    for _, chunk in decoded_events(chunks):
        for name in _HEAD:
            if name in chunk and name not in result:
                result[name] = chunk[name]
        if chunk.get("usage"):
            result["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or ():
            index = choice.get("index", 0)
            slot = choices.setdefault(
                index,
                {
                    "index": index,
                    "message": {"role": "assistant", "content": None},
                    "logprobs": None,
                    "finish_reason": None,
                },
            )
            delta = choice.get("delta") or {}
            message = slot["message"]
            _merge(message, delta)
            _add_logprobs(slot, choice.get("logprobs"))
            for call in delta.get("tool_calls") or ():
                calls = message.setdefault("tool_calls", [])
                position = call.get("index", 0)
                while len(calls) <= position:
                    calls.append(
                        {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                    )
                target = calls[position]
                if call.get("id"):
                    target["id"] = call["id"]
                function = call.get("function") or {}
                target["function"]["name"] += function.get("name") or ""
                target["function"]["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                slot["finish_reason"] = choice["finish_reason"]
    result["choices"] = [choices[i] for i in sorted(choices)]
    return result


def _merge(into: dict[str, Any], delta: dict[str, Any]) -> None:
    """A delta's fields added to what the choice's message holds, as the openai SDK assembles a
    stream: text appended (`content`, `refusal`, DeepSeek's and vLLM's `reasoning_content` and
    `reasoning`, an audio answer's `transcript` and `data`), objects merged field by field (the
    deprecated `function_call`, `audio`), lists extended (`annotations`). Tool calls are
    assembled by the caller, by their index. A field whose first piece is an empty string stays
    unset (a tool call's `content` is null, as in a JSON answer)."""
    for name, value in delta.items():
        held = into.get(name)
        if name == "tool_calls" or value is None or (held is None and value == ""):
            continue
        if held is None or name == "role":
            into[name] = value
        elif isinstance(held, str) and isinstance(value, str):
            into[name] = held + value
        elif isinstance(held, dict) and isinstance(value, dict):
            _merge(held, value)
        elif isinstance(held, list) and isinstance(value, list):
            into[name] = held + value
        else:
            into[name] = value


def _add_logprobs(slot: dict[str, Any], logprobs: object) -> None:
    """A chunk's `logprobs` (token lists for content and refusal) appended to its choice's."""
    if not isinstance(logprobs, dict):
        return
    into = slot["logprobs"] or {"content": None, "refusal": None}
    for name in ("content", "refusal"):
        if isinstance(logprobs.get(name), list):
            into[name] = (into[name] or []) + logprobs[name]
    slot["logprobs"] = into


def openai_json_to_stream(body: dict[str, Any], include_usage: bool) -> list[bytes]:
    """A chat.completion replayed as the chunk sequence OpenAI would have streamed."""
    base = {
        "id": body.get("id"),
        "object": "chat.completion.chunk",
        "created": body.get("created"),
        "model": body.get("model"),
        **{name: body[name] for name in _HEAD[3:] if name in body},
    }
    extra: dict[str, Any] = {"usage": None} if include_usage else {}
    out: list[bytes] = []
    for choice in body.get("choices") or ():
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        # Every field of the message but its tool calls (their own chunk) in the first delta:
        # `refusal`, `reasoning_content`, `audio`, `annotations`, `function_call` as it is.
        delta: dict[str, Any] = {
            "role": "assistant",
            **{k: v for k, v in message.items() if k != "tool_calls" and v is not None},
            "content": message.get("content"),
        }
        opening: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": None}
        if choice.get("logprobs") is not None:
            opening["logprobs"] = choice["logprobs"]
        out.append(encode_event(orjson.dumps({**base, "choices": [opening], **extra})))
        if message.get("tool_calls"):
            calls = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
            out.append(
                encode_event(
                    orjson.dumps(
                        {
                            **base,
                            "choices": [
                                {
                                    "index": index,
                                    "delta": {"tool_calls": calls},
                                    "finish_reason": None,
                                }
                            ],
                            **extra,
                        }
                    )
                )
            )
        out.append(
            encode_event(
                orjson.dumps(
                    {
                        **base,
                        "choices": [
                            {
                                "index": index,
                                "delta": {},
                                "finish_reason": choice.get("finish_reason"),
                            }
                        ],
                        **extra,
                    }
                )
            )
        )
    if include_usage and body.get("usage"):
        out.append(encode_event(orjson.dumps({**base, "choices": [], "usage": body["usage"]})))
    out.append(b"data: [DONE]\n\n")
    return out
