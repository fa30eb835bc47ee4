"""What the mock provider's replies are made of: the bodies and the counters they keep.

`StreamBody` counts itself in `MockStats` as active while consumed, then as completed,
cancelled (closed or cancelled by the consumer before its end) or dropped (`drop-mid-stream`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

AUTH_HEADERS_KEPT = 100


class MockConnectionDrop(Exception):
    """Raised by a reply body (or by `handle`) where the provider drops the connection."""


@dataclass
class MockStats:
    requests: int = 0
    by_model: dict[str, int] = field(default_factory=dict)
    active_streams: int = 0
    completed_streams: int = 0
    cancelled_streams: int = 0  # closed or cancelled by the consumer before the end
    dropped_streams: int = 0  # ended by drop-mid-stream
    auth_headers_seen: list[str] = field(default_factory=list)  # the last 100 values
    # (method, path, headers, body bytes) of the last request; parsed only when asked for.
    _last: tuple[str, str, Mapping[str, str], bytes] | None = field(default=None, repr=False)

    @property
    def last_request(self) -> dict[str, Any] | None:
        if self._last is None:
            return None
        method, path, headers, body = self._last
        try:
            parsed: Any = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = body.decode("utf-8", "replace")
        lowered = {name.lower(): value for name, value in headers.items()}
        return {"method": method, "path": path, "headers": lowered, "body": parsed}

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_model": dict(self.by_model),
            "active_streams": self.active_streams,
            "completed_streams": self.completed_streams,
            "cancelled_streams": self.cancelled_streams,
            "dropped_streams": self.dropped_streams,
            "last_request": self.last_request,
            "auth_headers_seen": list(self.auth_headers_seen),
        }

    def reset(self) -> None:
        """Zero the counters; streams still running stay counted as active."""
        self.requests = self.completed_streams = self.cancelled_streams = self.dropped_streams = 0
        self.by_model.clear()
        self.auth_headers_seen.clear()
        self._last = None

    def note_request(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> None:
        """Count a request and keep what identifies it (auth header values, the request itself)."""
        self.requests += 1
        seen = self.auth_headers_seen
        for name, value in headers.items():
            lower = name.lower()
            if lower == "authorization" or lower == "x-api-key":
                seen.append(value)
                if len(seen) > AUTH_HEADERS_KEPT:
                    del seen[0]
        self._last = (method, path, headers, body)


class OnceBody:
    """A body that is one piece of bytes."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    def __aiter__(self) -> OnceBody:
        return self

    async def __anext__(self) -> bytes:
        data = self._data
        if data is None:
            raise StopAsyncIteration
        self._data = None
        return data

    async def aclose(self) -> None:
        self._data = None


_NEW, _RUNNING, _ENDED = 0, 1, 2


class StreamBody:
    """An event stream paced `delay_s` between pieces, kept in the stats while consumed.

    Closing or cancelling it before the last piece counts a cancelled stream; with `drop` it
    raises MockConnectionDrop after its pieces instead of ending.
    """

    __slots__ = ("_delay_s", "_drop", "_next", "_pieces", "_state", "_stats")

    def __init__(self, pieces: list[bytes], delay_s: float, stats: MockStats, drop: bool) -> None:
        self._pieces = pieces
        self._delay_s = delay_s
        self._stats = stats
        self._drop = drop
        self._next = 0
        self._state = _NEW

    def __aiter__(self) -> StreamBody:
        return self

    async def __anext__(self) -> bytes:
        if self._state == _NEW:
            self._state = _RUNNING
            self._stats.active_streams += 1
        elif self._state == _ENDED:
            raise StopAsyncIteration
        index = self._next
        if index == len(self._pieces):  # an empty stream, or the drop point
            if self._drop:
                self._end("dropped")
                raise MockConnectionDrop("connection dropped mid-stream")
            self._end("completed")
            raise StopAsyncIteration
        if index and self._delay_s:
            try:
                await asyncio.sleep(self._delay_s)
            except asyncio.CancelledError:
                self._end("cancelled")
                raise
        self._next = index + 1
        if self._next == len(self._pieces) and not self._drop:
            self._end("completed")
        return self._pieces[index]

    async def aclose(self) -> None:
        if self._state != _ENDED:
            self._end("cancelled")

    def _end(self, how: str) -> None:
        stats = self._stats
        if self._state == _RUNNING:
            stats.active_streams -= 1
        self._state = _ENDED
        if how == "completed":
            stats.completed_streams += 1
        elif how == "cancelled":
            stats.cancelled_streams += 1
        else:
            stats.dropped_streams += 1
