"""Server-sent events: an incremental decoder and an encoder, bytes in and bytes out."""

from __future__ import annotations

from typing import NamedTuple


class SSEEvent(NamedTuple):  # a tuple: one is made per event on the hot path
    event: str | None
    data: bytes
    # The event exactly as received, terminator included, for byte-for-byte forwarding.
    raw: bytes


class SSEDecoder:
    """Feed bytes as they arrive; get back each complete event once its blank line is in."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        parts = buffer.split(b"\n\n")
        self._buffer = parts.pop()  # after the last blank line: an event not complete yet
        events: list[SSEEvent] = []
        for part in parts:
            if part.startswith(b"data: ") and b"\n" not in part:
                # The shape of nearly every event on the hot path: one `data: ...` line.
                events.append(SSEEvent(None, part[6:], part + b"\n\n"))
                continue
            event = parse_event(part + b"\n\n")
            if event is not None:
                events.append(event)
        return events

    @property
    def pending(self) -> bytes:
        return self._buffer


def parse_event(raw: bytes) -> SSEEvent | None:
    """One complete event (terminator included); None for a comment or an empty event."""
    name: str | None = None
    data: list[bytes] = []
    for line in raw.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    if not data and name is None:
        return None
    return SSEEvent(event=name, data=b"\n".join(data), raw=raw)


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """One SSE event; `data` must be a single line (JSON is)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
