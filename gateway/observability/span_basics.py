"""What every span the tracer builds shares: the sampled flag, attribute values, times."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.trace import SpanContext, TraceFlags

from gateway.observability.trace_context import TraceIds

SAMPLED = TraceFlags(TraceFlags.SAMPLED)
SPAN_BYTES = 1024  # a span without content, roughly, as encoded
AttributeValue = str | bool | int | float | Sequence[str]


def ns(ts: Any) -> int:
    """A record's time (seconds, float) in nanoseconds."""
    return int(float(ts or 0) * 1e9)


def optional(
    attributes: dict[str, AttributeValue], record: Mapping[str, Any], name: str, field: str
) -> None:
    """`attributes[name]` = the record's `field` as text, when it has one."""
    value = record.get(field)
    if value is not None:
        attributes[name] = str(value)


def client_parent(ids: TraceIds) -> SpanContext | None:
    """The server span's parent: the client's span, from its `traceparent`, if any."""
    if ids.parent_id is None:
        return None
    return SpanContext(ids.trace_id, ids.parent_id, True, SAMPLED)
