"""W3C trace context for one request, and the interface of the tracer that exports spans.

This module imports no OpenTelemetry: the request path only needs ids. The exporter
(`gateway.observability.tracing`, the `otel` extra) is loaded when `[tracing]` is configured.
A request's ids are made as it arrives: the trace id from the client's `traceparent` (else
new), the server span's id, and one id per upstream attempt, sent upstream as its
`traceparent`. Spans are built from the finished request's record, off the request path.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True, slots=True)
class TraceIds:
    trace_id: int
    span_id: int  # the request's server span
    parent_id: int | None  # the client's span, from its traceparent


def parse_traceparent(header: str | None) -> tuple[int, int] | None:
    """(trace id, parent span id) of a valid version-00 `traceparent`, else None."""
    if not header:
        return None
    match = _TRACEPARENT.match(header.strip().lower())
    if match is None:
        return None
    trace_id, parent_id = int(match[1], 16), int(match[2], 16)
    return (trace_id, parent_id) if trace_id and parent_id else None


def parent_sampled(header: str | None) -> bool | None:
    """The sampled flag of a valid `traceparent` (the client's decision whether its trace is
    recorded), or None without a valid one."""
    if not header or parse_traceparent(header) is None:
        return None
    return bool(int(header.strip()[-2:], 16) & 1)


def new_ids(headers: Mapping[str, str], rng: random.Random) -> TraceIds:
    found = parse_traceparent(headers.get("traceparent"))
    span_id = rng.getrandbits(64) or 1
    if found is None:
        return TraceIds(rng.getrandbits(128) or 1, span_id, None)
    return TraceIds(found[0], span_id, found[1])


def record_trace_id(trace: TraceIds | None, headers: Mapping[str, str]) -> str | None:
    """The request record's `trace_id` (32 hex digits): its spans' trace when it is traced,
    else the trace of the client's valid `traceparent`, else None."""
    if trace is not None:
        return f"{trace.trace_id:032x}"
    found = parse_traceparent(headers.get("traceparent"))
    return None if found is None else f"{found[0]:032x}"


def traceparent(trace_id: int, span_id: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-01"


class RequestTracer(Protocol):
    """Exports a finished request as a server span and one client span per attempt."""

    def start(self, headers: Mapping[str, str]) -> TraceIds | None:
        """The request's ids, or None when this request is not sampled."""
        ...

    def export(
        self,
        record: Mapping[str, Any],
        ids: TraceIds,
        attempt_span_ids: Sequence[int | None],
        content: tuple[Any, Any] | None,
    ) -> None:
        """Queue the request's spans (never blocks; drops and counts when the queue is full).
        `content`: (request body, answer) when `capture_content` is on."""
        ...

    def shutdown(self) -> None: ...
