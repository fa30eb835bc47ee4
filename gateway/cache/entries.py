"""Exact response cache entries: how an answer is stored, read back, and served in the form
asked for.

A streamed answer is stored as the exact client-format SSE pieces that were sent and replayed
with the same boundaries; a JSON request served from a stream entry gets the assembled JSON,
and a stream request served from a JSON entry gets a synthesised stream (gateway/cache/chat.py,
gateway/cache/messages.py; `text_completion` objects for a legacy completion:
gateway/cache/completions.py). The key is gateway/cache/keys.py.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.cache.chat import openai_json_to_stream, openai_stream_to_json
from gateway.cache.completions import (
    TEXT_COMPLETION,
    completion_json_to_stream,
    completion_stream_to_json,
)
from gateway.cache.events import decoded_events
from gateway.cache.messages import anthropic_json_to_stream, anthropic_stream_to_json
from gateway.sse import SSEDecoder, encode_event


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
    first = next((chunk for _, chunk in decoded_events(pieces) if isinstance(chunk, dict)), {})
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
        assembled = completion_stream_to_json(chunk for _, chunk in decoded_events(entry["chunks"]))
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
