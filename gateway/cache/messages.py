"""An Anthropic message's cache entry in the other form (`POST /v1/messages`): a stored
stream's events assembled into one message, and a message replayed as the events Anthropic
would have streamed."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.cache.events import decoded_events
from gateway.sse import encode_event


def anthropic_stream_to_json(chunks: list[str]) -> dict[str, Any]:
    """Assemble Anthropic stream events into one message."""
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    partial_json: dict[int, str] = {}
    for _, event in decoded_events(chunks):
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
            elif delta.get("type") == "citations_delta":
                block["citations"] = [*(block.get("citations") or []), delta["citation"]]
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
        # A cited text's citations (web search, documents) each come in a `citations_delta`.
        cites = block.get("citations") or []
        deltas = [{"type": "citations_delta", "citation": cite} for cite in cites]
        deltas.append({"type": "text_delta", "text": block.get("text", "")})
        return {**block, "text": "", **({"citations": []} if cites else {})}, deltas
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
