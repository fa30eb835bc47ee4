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
from typing import Any, NamedTuple, Protocol

from gateway.scrub import Secrets

# W3C Trace Context, level 1: lower-case hex only; version ff is invalid; version 00 is exactly
# these four fields, and a later version may add fields after a "-", which a reader of 00 skips.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
# A tracestate passed on: at most 32 list members of printable ASCII (W3C's bounds), else dropped.
_TRACESTATE = re.compile(r"[\x20-\x7e]*")
MAX_TRACESTATE_MEMBERS = 32


class CapturedContent(NamedTuple):
    """A request's text a span keeps (`capture_content`): its body and answer, and the secrets
    of the config it ran under, scrubbed out of both as the span is built (body_scrub.py)."""

    request: Any
    answer: Any
    secrets: Secrets


@dataclass(frozen=True, slots=True)
class TraceIds:
    trace_id: int
    span_id: int  # the request's server span
    parent_id: int | None  # the client's span, from its traceparent


def _parsed(header: str | None) -> tuple[int, int, int] | None:
    """(trace id, parent span id, flags) of a valid `traceparent`, else None. Upper-case hex,
    version ff, all-zero ids, a version-00 header with more fields, or several headers (joined
    by commas as they arrive) are invalid: the request then starts a trace of its own."""
    if not header:
        return None
    match = _TRACEPARENT.fullmatch(header.strip(" \t"))
    if match is None or match[1] == "ff" or (match[1] == "00" and match[5] is not None):
        return None
    trace_id, parent_id = int(match[2], 16), int(match[3], 16)
    return (trace_id, parent_id, int(match[4], 16)) if trace_id and parent_id else None


def parse_traceparent(header: str | None) -> tuple[int, int] | None:
    """(trace id, parent span id) of a valid `traceparent`, else None."""
    found = _parsed(header)
    return None if found is None else (found[0], found[1])


def parent_sampled(header: str | None) -> bool | None:
    """The sampled flag of a valid `traceparent` (the client's decision whether its trace is
    recorded), or None without a valid one."""
    found = _parsed(header)
    return None if found is None else bool(found[2] & 1)


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


@dataclass(frozen=True, slots=True)
class UpstreamTrace:
    """The trace context every upstream attempt of a request is sent. Traced here, each
    attempt's `traceparent` names its own span; else a client's valid `traceparent` is passed on
    as received (its sampled flag too, so an upstream honours the client's decision). The
    client's `tracestate` goes with either, unchanged (W3C: a participant passes it on)."""

    trace_id: int | None  # traced here
    client_traceparent: str | None  # not traced here: the client's
    tracestate: str | None

    def new_span_id(self, rng: random.Random) -> int | None:
        """A new attempt's span id when the request is traced here, else None."""
        return None if self.trace_id is None else rng.getrandbits(64) or 1

    def headers(self, span_id: int | None) -> dict[str, str]:
        """The headers an attempt with `span_id` (from `new_span_id`) sends upstream."""
        headers: dict[str, str] = {}
        if self.trace_id is not None and span_id is not None:
            headers["traceparent"] = traceparent(self.trace_id, span_id)
        elif self.client_traceparent is not None:
            headers["traceparent"] = self.client_traceparent
        if self.tracestate is not None:
            headers["tracestate"] = self.tracestate
        return headers


def upstream_trace(trace: TraceIds | None, headers: Mapping[str, str]) -> UpstreamTrace | None:
    """What a request's upstream attempts are sent of its trace context; None when it has none
    (not traced here, and no valid `traceparent` from the client)."""
    client = headers.get("traceparent")
    if trace is None and client is None:
        return None  # most requests: one lookup
    found = _parsed(client)
    if found is None:
        return None if trace is None else UpstreamTrace(trace.trace_id, None, None)
    state = _tracestate(headers.get("tracestate"))
    if trace is not None:
        return UpstreamTrace(trace.trace_id, None, state)
    # Passed on in version 00, the version this gateway speaks (W3C: a later version's extra
    # fields are not passed on by a reader that does not know them).
    return UpstreamTrace(None, f"00-{found[0]:032x}-{found[1]:016x}-{found[2]:02x}", state)


def _tracestate(header: str | None) -> str | None:
    """A client's `tracestate` as it is passed on, or None (absent, empty, or beyond W3C's
    bounds: more than 32 members, or characters outside printable ASCII)."""
    if header is None or not header.strip(" \t,"):
        return None
    if _TRACESTATE.fullmatch(header) is None:
        return None
    members = [m for m in header.split(",") if m.strip(" \t")]
    return header.strip(" \t") if len(members) <= MAX_TRACESTATE_MEMBERS else None


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
        content: CapturedContent | None,
    ) -> None:
        """Queue the request's spans (never blocks; drops and counts when the queue is full).
        `content`: the request's body and answer when `capture_content` is on."""
        ...

    def shutdown(self) -> None: ...
