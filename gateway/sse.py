"""Server-sent events: an incremental decoder and an encoder, bytes in and bytes out."""

from __future__ import annotations

from typing import NamedTuple


class SSEEvent(NamedTuple):  # a tuple: one is made per event on the hot path
    event: str | None
    data: bytes
    # The event exactly as received, terminator included, for byte-for-byte forwarding.
    raw: bytes


class EventBuffer:
    """The bytes of a stream until their events are complete.

    `take(chunk)` returns everything up to the last blank line so far, line ends made `\n`
    (`\r\n` and `\r` alike, also when a `\r\n` is split between two chunks), or `b""` while
    no event has ended; the rest waits. An event that arrives in many pieces is kept as its
    pieces and joined once, when its blank line comes: each byte is looked at a bounded number
    of times, so a 64 MiB event fed 64 KiB at a time costs what one chunk of it does per chunk
    (joining the buffer to each chunk and scanning it again cost minutes of CPU for it).
    """

    __slots__ = ("_cr", "_pieces")

    def __init__(self) -> None:
        self._pieces: list[bytes] = []  # after the last blank line, line ends made `\n`
        self._cr = False  # the last chunk ended with `\r`: a `\n` starting the next is its pair

    @property
    def idle(self) -> bool:
        """Nothing waits: a chunk of whole events (each ending `\n\n`, no `\r`) is itself."""
        return not self._pieces and not self._cr

    def take(self, chunk: bytes) -> bytes:
        if self._cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._cr = chunk.endswith(b"\r")
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        pieces = self._pieces
        if pieces:
            if b"\n\n" not in pieces[-1][-1:] + chunk:  # the event goes on
                if chunk:
                    pieces.append(chunk)
                return b""
            pieces.append(chunk)
            chunk = b"".join(pieces)
            pieces.clear()
        end = chunk.rfind(b"\n\n") + 2  # 1 when no event ends here
        if end < 2:
            if chunk:
                pieces.append(chunk)
            return b""
        if end < len(chunk):
            pieces.append(chunk[end:])
            return chunk[:end]
        return chunk


class SSEDecoder:
    """Feed bytes as they arrive; get back each complete event once its blank line is in."""

    def __init__(self) -> None:
        self._buffer = EventBuffer()

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        complete = self._buffer.take(chunk)
        if not complete:
            return []
        parts = complete.split(b"\n\n")
        parts.pop()  # the empty remainder after the last blank line
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


def parse_event(raw: bytes) -> SSEEvent | None:
    """One complete event (terminator included); None for a comment or an empty event.

    llama.cpp server writes an error inside a stream as an `error: {...}` line, a field SSE
    does not know (its own web UI reads it): it is an `error` event with that data here, so
    the upstream's error is not dropped as an unknown field would be."""
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
        elif field == b"error":
            name = "error"
            data.append(value)
    if not data and name is None:
        return None
    return SSEEvent(event=name, data=b"\n".join(data), raw=raw)


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """One SSE event; `data` must be a single line (JSON is)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
