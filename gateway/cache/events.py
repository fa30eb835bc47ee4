"""The SSE events of a stored stream, decoded: what the conversions to JSON read."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.sse import SSEDecoder


def decoded_events(chunks: list[str]) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) of each event in `chunks`, `[DONE]` left out."""
    decoder = SSEDecoder()
    out: list[tuple[str | None, Any]] = []
    for piece in chunks:
        for event in decoder.feed(piece.encode()):
            if event.data == b"[DONE]":
                continue
            out.append((event.event, orjson.loads(event.data)))
    return out
