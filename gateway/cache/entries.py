"""Exact response cache: key derivation, entries, and converting between JSON and stream entries.

The key is a hash of the whole request body as forwarded (endpoint and public model included),
minus the fields that never change the answer (`IGNORED_FIELDS`: `stream`, `stream_options`,
`user`, `metadata`). It is namespaced per team when the policy says `per_team = true`.

A streamed answer is stored as the exact client-format SSE pieces that were sent and replayed
with the same boundaries; a JSON request served from a stream entry gets the assembled JSON,
and a stream request served from a JSON entry gets a synthesised stream (`text_completion`
objects for a legacy completion: gateway/cache/completions.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from gateway.cache.completions import (
    TEXT_COMPLETION,
    completion_json_to_stream,
    completion_stream_to_json,
)
from gateway.sse import SSEDecoder, encode_event

# The fields that never change the answer: everything else in the body is part of the key.
# `stream`/`stream_options` change only the framing (entries convert between JSON and stream);
# `user` and `metadata` label the request for the provider's own bookkeeping.
IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata"})


def cache_key(endpoint: str, body: dict[str, Any], namespace: str | None) -> str:
    """The key of the answer to `body`: a hash of the whole forwarded body (keys sorted, so the
    order fields came in does not matter) minus `IGNORED_FIELDS`. Any other field, known or not
    (`modalities`, `service_tier`, vLLM's `guided_json`, ...), may change the answer, so two
    requests differing in one never share an entry."""
    kept = {name: value for name, value in body.items() if name not in IGNORED_FIELDS}
    digest = hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{namespace or '-'}:{endpoint}:{digest}"


def encode_entry(
    kind: str,
    payload: bytes | list[bytes],
    usage: dict[str, int],
    include_usage: bool = False,
    estimated: bool = False,
) -> bytes:
    """`include_usage`: whether the stored stream carries OpenAI's usage chunk; `estimated`:
    `usage` is the gateway's estimate (the upstream reported none), and a hit says so."""
    if kind == "json":
        assert isinstance(payload, bytes)
        data: dict[str, Any] = {"kind": "json", "body": payload.decode(), "usage": usage}
    else:
        assert isinstance(payload, list)
        data = {
            "kind": "stream",
            "chunks": [p.decode() for p in payload],
            "usage": usage,
            "include_usage": include_usage,
        }
    if estimated:
        data["usage_estimated"] = True
    return orjson.dumps(data)


def decode_entry(raw: bytes) -> dict[str, Any] | None:
    """The entry `encode_entry` wrote, or None for anything else: a shared cache (Redis) may
    hold what another version of the gateway wrote, or a value damaged or edited by hand, and
    such an entry is a miss, never a failed request."""
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(entry, dict):
        return None
    kind = entry.get("kind")
    if kind == "json":
        shaped = isinstance(entry.get("body"), str)
    elif kind == "stream":
        chunks = entry.get("chunks")
        shaped = isinstance(chunks, list) and all(isinstance(c, str) for c in chunks)
    else:
        return None
    usage = entry.get("usage", {})
    if not shaped or not isinstance(usage, dict):
        return None
    counts = (usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
    return entry if all(type(count) is int and count >= 0 for count in counts) else None


# -- stream -> JSON ------------------------------------------------------------------------------


def _events(chunks: list[str]) -> list[tuple[str | None, Any]]:
    decoder = SSEDecoder()
    out: list[tuple[str | None, Any]] = []
    for piece in chunks:
        for event in decoder.feed(piece.encode()):
            if event.data == b"[DONE]":
                continue
            out.append((event.event, orjson.loads(event.data)))
    return out


def openai_stream_to_json(chunks: list[str]) -> dict[str, Any]:
    """Assemble OpenAI chat.completion.chunk events into one chat.completion."""
    choices: dict[int, dict[str, Any]] = {}
    result: dict[str, Any] = {"object": "chat.completion"}
    for _, chunk in _events(chunks):
        for name in ("id", "created", "model", "system_fingerprint"):
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
            if delta.get("content"):
                message["content"] = (message["content"] or "") + delta["content"]
            if delta.get("refusal"):
                message["refusal"] = (message.get("refusal") or "") + delta["refusal"]
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


def _add_logprobs(slot: dict[str, Any], logprobs: object) -> None:
    """A chunk's `logprobs` (token lists for content and refusal) appended to its choice's."""
    if not isinstance(logprobs, dict):
        return
    into = slot["logprobs"] or {"content": None, "refusal": None}
    for name in ("content", "refusal"):
        if isinstance(logprobs.get(name), list):
            into[name] = (into[name] or []) + logprobs[name]
    slot["logprobs"] = into


def anthropic_stream_to_json(chunks: list[str]) -> dict[str, Any]:
    """Assemble Anthropic stream events into one message."""
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    partial_json: dict[int, str] = {}
    for _, event in _events(chunks):
        kind = event.get("type")
        if kind == "message_start":
            message = dict(event["message"])
        elif kind == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif kind == "content_block_delta":
            delta = event["delta"]
            block = blocks[event["index"]]
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + delta["text"]
            elif delta.get("type") == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta["thinking"]
            elif delta.get("type") == "signature_delta":
                block["signature"] = block.get("signature", "") + delta["signature"]
            elif delta.get("type") == "input_json_delta":
                partial_json[event["index"]] = (
                    partial_json.get(event["index"], "") + delta["partial_json"]
                )
        elif kind == "message_delta":
            message.update(event.get("delta") or {})
            usage = dict(message.get("usage") or {})
            usage.update(event.get("usage") or {})
            message["usage"] = usage
    for index, text in partial_json.items():
        blocks[index]["input"] = orjson.loads(text) if text else {}
    message["content"] = [blocks[i] for i in sorted(blocks)]
    return message


# -- JSON -> stream ------------------------------------------------------------------------------


def openai_json_to_stream(body: dict[str, Any], include_usage: bool) -> list[bytes]:
    """A chat.completion replayed as the chunk sequence OpenAI would have streamed."""
    base = {
        "id": body.get("id"),
        "object": "chat.completion.chunk",
        "created": body.get("created"),
        "model": body.get("model"),
    }
    extra: dict[str, Any] = {"usage": None} if include_usage else {}
    out: list[bytes] = []
    for choice in body.get("choices") or ():
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
        if isinstance(message.get("refusal"), str):
            delta["refusal"] = message["refusal"]
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


def _block_events(block: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A content block as Anthropic streams it: its opening (`content_block_start`) and deltas.

    Text, tool use and thinking open empty and arrive as deltas (a thinking block's signature
    in a `signature_delta` after its text); any other block (`redacted_thinking`, server tool
    results) arrives whole in its opening, as Anthropic sends them.
    """
    kind = block.get("type")
    if kind == "tool_use":
        partial = orjson.dumps(block.get("input") or {}).decode()
        return {**block, "input": {}}, [{"type": "input_json_delta", "partial_json": partial}]
    if kind == "text":
        return {**block, "text": ""}, [{"type": "text_delta", "text": block.get("text", "")}]
    if kind == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": block.get("thinking", "")}]
        if block.get("signature"):
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        return {**block, "thinking": "", "signature": ""}, deltas
    return block, []


def anthropic_json_to_stream(message: dict[str, Any]) -> list[bytes]:
    """A message replayed as the Anthropic event sequence."""
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    usage = message.get("usage") or {}
    start["usage"] = {**usage, "output_tokens": 0}
    out = [encode_event(orjson.dumps({"type": "message_start", "message": start}), "message_start")]
    for index, block in enumerate(message.get("content") or ()):
        opening, deltas = _block_events(block)
        out.append(
            encode_event(
                orjson.dumps(
                    {"type": "content_block_start", "index": index, "content_block": opening}
                ),
                "content_block_start",
            )
        )
        for delta in deltas:
            out.append(
                encode_event(
                    orjson.dumps({"type": "content_block_delta", "index": index, "delta": delta}),
                    "content_block_delta",
                )
            )
        out.append(
            encode_event(
                orjson.dumps({"type": "content_block_stop", "index": index}), "content_block_stop"
            )
        )
    closing = {
        "stop_reason": message.get("stop_reason"),
        "stop_sequence": message.get("stop_sequence"),
    }
    out.append(
        encode_event(
            orjson.dumps(
                {
                    "type": "message_delta",
                    "delta": closing,
                    "usage": {"output_tokens": usage.get("output_tokens", 0)},
                }
            ),
            "message_delta",
        )
    )
    out.append(encode_event(orjson.dumps({"type": "message_stop"}), "message_stop"))
    return out


def _without_usage_chunk(pieces: list[str]) -> list[bytes]:
    out = []
    decoder = SSEDecoder()
    for piece in pieces:
        kept = []
        for event in decoder.feed(piece.encode()):
            if event.data != b"[DONE]":
                parsed = orjson.loads(event.data)
                if parsed.get("choices") == [] and parsed.get("usage"):
                    continue
            kept.append(event.raw)
        if kept:
            out.append(b"".join(kept))
    return out


# The fields OpenAI repeats on every chunk of a stream, the usage chunk included.
_CHUNK_FIELDS = ("id", "object", "created", "model", "system_fingerprint")


def _with_usage_chunk(pieces: list[str], usage: dict[str, int], kind: str) -> list[bytes]:
    out = [p.encode() for p in pieces]
    first = next((chunk for _, chunk in _events(pieces) if isinstance(chunk, dict)), {})
    head = {name: first[name] for name in _CHUNK_FIELDS if name in first}
    # The stream's own object (Azure's first chunk, its filter results, says "").
    head["object"] = TEXT_COMPLETION if kind == "completions" else "chat.completion.chunk"
    usage_event = encode_event(orjson.dumps({**head, "choices": [], "usage": usage}))
    for i, piece in enumerate(out):
        if piece.endswith(b"data: [DONE]\n\n"):
            out[i] = piece[: -len(b"data: [DONE]\n\n")] + usage_event + b"data: [DONE]\n\n"
            break
    return out


def entry_as_json(entry: dict[str, Any], wire: str, kind: str = "chat") -> bytes:
    """The entry as the JSON answer of an endpoint of `wire` and `kind`."""
    if entry["kind"] == "json":
        return str(entry["body"]).encode()
    if wire != "openai":
        return orjson.dumps(anthropic_stream_to_json(entry["chunks"]))
    if kind == "completions":
        assembled = completion_stream_to_json(chunk for _, chunk in _events(entry["chunks"]))
    else:
        assembled = openai_stream_to_json(entry["chunks"])
    if "usage" not in assembled and entry.get("usage"):
        # A stream sent without `include_usage` has no usage chunk; a JSON answer always
        # carries its usage, so it comes from the entry (what the request was counted as).
        assembled["usage"] = entry["usage"]
    return orjson.dumps(assembled)


def entry_as_stream(
    entry: dict[str, Any], wire: str, include_usage: bool, kind: str = "chat"
) -> list[bytes]:
    """The entry as the stream of an endpoint of `wire` and `kind` (usage chunk as asked)."""
    if entry["kind"] == "stream":
        if wire != "openai" or bool(entry.get("include_usage")) == include_usage:
            return [c.encode() for c in entry["chunks"]]  # the very pieces first sent
        if include_usage:
            return _with_usage_chunk(entry["chunks"], entry.get("usage") or {}, kind)
        return _without_usage_chunk(entry["chunks"])
    body = orjson.loads(entry["body"])
    if wire != "openai":
        return anthropic_json_to_stream(body)
    if kind == "completions":
        return completion_json_to_stream(body, include_usage)
    return openai_json_to_stream(body, include_usage)
