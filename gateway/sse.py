"""Server-sent events: an incremental decoder and an encoder, bytes in and bytes out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SSEEvent:
    event: str | None
    data: bytes
    # The event exactly as received, terminator included, for byte-for-byte forwarding.
    raw: bytes


class SSEDecoder:
    """Feed bytes as they arrive; get back each complete event once its blank line is in."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[SSEEvent] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            raw = buffer[start : end + 2]
            start = end + 2
            event = _parse_event(raw)
            if event is not None:
                events.append(event)
        self._buffer = buffer[start:]
        return events

    @property
    def pending(self) -> bytes:
        return self._buffer


def _parse_event(raw: bytes) -> SSEEvent | None:
    if raw.startswith(b"data: ") and raw.find(b"\n") == len(raw) - 2:
        # The shape of nearly every event on the hot path: one `data: ...` line.
        return SSEEvent(event=None, data=raw[6:-2], raw=raw)
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
