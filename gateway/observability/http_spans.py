"""Spans of the requests on routes that are not GenAI operations (`GET /v1/models`, stored
responses, `POST /v1/messages/count_tokens`, the catch-all 404), named and described by the
OpenTelemetry HTTP semantic conventions: a SERVER span `{method} {route}` (`{method}` alone
when no route matched), and one CLIENT span `{method}` per upstream call (a stored response
fetched from its deployment, a count asked of an Anthropic deployment). No `gen_ai.*`
attribute: nothing was generated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind
from opentelemetry.trace.status import Status, StatusCode

from gateway.observability.span_basics import (
    SAMPLED,
    SPAN_BYTES,
    AttributeValue,
    client_parent,
    ns,
    optional,
)
from gateway.observability.trace_context import TraceIds

# The methods the conventions name; any other is `_OTHER` (a span named `HTTP`), so a client's
# made-up method never becomes a span name.
KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
MAX_METHOD_CHARS = 32  # of `http.request.method_original`, a client's text


def http_spans(
    record: Mapping[str, Any],
    ids: TraceIds,
    attempt_span_ids: Sequence[int | None],
    resource: Resource,
) -> list[tuple[ReadableSpan, int]]:
    """The server span of `record` (with `http_method`, `http_route` from `trace_facts`) and a
    client span per upstream call that has a span id, each with its size estimate."""
    # Without a method named (a record of a kind that is no GenAI operation, on a proxied
    # route that names no `HttpRoute`): the POST that route answers, any other being named.
    original = str(record.get("http_method") or "POST")
    method = original if original in KNOWN_METHODS else "_OTHER"
    spans = [(server_span(record, ids, method, original, resource), SPAN_BYTES)]
    start_ns = ns(record.get("ts"))
    attempts = record.get("attempts") or ()
    for number, (attempt, span_id) in enumerate(zip(attempts, attempt_span_ids), 1):
        if span_id is not None:
            span = client_span(attempt, ids, span_id, number, method, start_ns, resource)
            spans.append((span, SPAN_BYTES))
    return spans


def server_span(
    record: Mapping[str, Any], ids: TraceIds, method: str, original: str, resource: Resource
) -> ReadableSpan:
    start = ns(record.get("ts"))
    status = int(record.get("status") or 0)
    route = record.get("http_route")
    attributes: dict[str, AttributeValue] = {
        "http.request.method": method,
        "http.response.status_code": status,
        "gateway.request_id": str(record.get("id")),
        "gateway.attempts": len(record.get("attempts") or ()),
        "gateway.overhead_ms": float(record.get("overhead_ms") or 0.0),
    }
    if method == "_OTHER":
        attributes["http.request.method_original"] = original[:MAX_METHOD_CHARS]
    if route is not None:
        attributes["http.route"] = str(route)
    else:  # no route: the path (the record's, at most 200 characters) says what was asked
        attributes["url.path"] = str(record.get("endpoint"))
    optional(attributes, record, "gateway.key_id", "key_id")
    optional(attributes, record, "gateway.deployment", "deployment")
    optional(attributes, record, "gateway.error_type", "error_type")
    failed = status >= 500  # the conventions: a server's 4xx is the client's error, not its own
    if failed:
        attributes["error.type"] = str(status)
    label = "HTTP" if method == "_OTHER" else method
    return ReadableSpan(
        name=label if route is None else f"{label} {route}",
        context=SpanContext(ids.trace_id, ids.span_id, False, SAMPLED),
        parent=client_parent(ids),
        resource=resource,
        attributes=attributes,
        kind=SpanKind.SERVER,
        status=Status(StatusCode.ERROR, str(status)) if failed else Status(),
        start_time=start,
        end_time=start + int((record.get("latency_ms") or 0) * 1e6),
    )


def client_span(
    attempt: Mapping[str, Any],
    ids: TraceIds,
    span_id: int,
    number: int,
    method: str,
    request_start_ns: int,
    resource: Resource,
) -> ReadableSpan:
    """An upstream call with the server request's method (a stored response's `GET` or
    `DELETE` asks the deployment the same)."""
    start = request_start_ns + int(float(attempt.get("start_ms") or 0) * 1e6)
    attributes: dict[str, AttributeValue] = {
        "http.request.method": method,
        "gateway.deployment": str(attempt.get("deployment")),
        "gateway.attempt": number,
    }
    if attempt.get("status") is not None:
        attributes["http.response.status_code"] = int(attempt["status"])
    error = attempt.get("error")
    if error:
        attributes["error.type"] = str(error)
    return ReadableSpan(
        name="HTTP" if method == "_OTHER" else method,
        context=SpanContext(ids.trace_id, span_id, False, SAMPLED),
        parent=SpanContext(ids.trace_id, ids.span_id, False, SAMPLED),
        resource=resource,
        attributes=attributes,
        kind=SpanKind.CLIENT,
        status=Status(StatusCode.ERROR, str(error)) if error else Status(),
        start_time=start,
        end_time=start + int(float(attempt.get("duration_ms") or 0) * 1e6),
    )
