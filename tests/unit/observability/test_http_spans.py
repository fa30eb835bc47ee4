"""Spans of the routes that are not GenAI operations: named and described by the HTTP
conventions (`{method} {route}`, the method alone without a route), never by the path or a
client's text, with no `gen_ai.*` attribute, and an error only on a 5xx."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanKind
from opentelemetry.trace.status import StatusCode

from gateway.observability.http_spans import http_spans
from gateway.observability.trace_context import TraceIds

TS = 1_767_225_600.0
RESOURCE = Resource.create({"service.name": "test"})
IDS = TraceIds(0xABC, 0x12, 0x34)


def record(method: str, route: str | None, status: int = 200, **fields: Any) -> dict[str, Any]:
    return {
        "id": "req_1",
        "ts": TS,
        "endpoint": "/v1/models" if route else "/v1/nowhere/sk-secret-ish",
        "status": status,
        "latency_ms": 2.0,
        "attempts": [],
        "key_id": "k",
        "http_method": method,
        "http_route": route,
        **fields,
    }


def test_a_route_is_named_by_its_method_and_template() -> None:
    ((span, _),) = http_spans(record("GET", "/v1/models"), IDS, [], RESOURCE)
    assert span.name == "GET /v1/models" and span.kind is SpanKind.SERVER
    attributes = dict(span.attributes or {})
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.route"] == "/v1/models"
    assert attributes["http.response.status_code"] == 200
    assert attributes["gateway.key_id"] == "k"
    assert not [name for name in attributes if name.startswith("gen_ai.")]
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is not None and span.parent.span_id == 0x34  # the client's span
    assert span.context is not None and span.context.trace_id == 0xABC
    assert span.end_time == span.start_time + 2_000_000  # type: ignore[operator]


def test_an_unknown_route_is_named_by_the_method_alone_and_keeps_its_path_as_an_attribute() -> None:
    ((span, _),) = http_spans(record("POST", None, 404), IDS, [], RESOURCE)
    assert span.name == "POST"
    attributes = dict(span.attributes or {})
    assert "http.route" not in attributes
    assert attributes["url.path"] == "/v1/nowhere/sk-secret-ish"
    assert attributes["http.response.status_code"] == 404
    assert span.status.status_code is StatusCode.UNSET  # a 4xx is the client's error


def test_a_method_nobody_defined_never_names_a_span() -> None:
    ((span, _),) = http_spans(record("BREW-" + "x" * 100, None, 404), IDS, [], RESOURCE)
    assert span.name == "HTTP"
    attributes = dict(span.attributes or {})
    assert attributes["http.request.method"] == "_OTHER"
    assert attributes["http.request.method_original"] == ("BREW-" + "x" * 100)[:32]


def test_a_5xx_is_an_error_with_its_status_as_error_type() -> None:
    route = "/v1/responses/{response_id}"
    failed = record("GET", route, 502, error_type="upstream_error")
    ((span, _),) = http_spans(failed, IDS, [], RESOURCE)
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "502"


def test_an_upstream_call_is_an_http_client_child_named_by_its_method() -> None:
    attempts = [
        {
            "deployment": "p/m",
            "status": 404,
            "error": "http_404",
            "start_ms": 1.0,
            "duration_ms": 0.5,
        }
    ]
    fetched = record("DELETE", "/v1/responses/{response_id}", 404, attempts=attempts)
    (_, (child, _)) = http_spans(fetched, IDS, [0x99], RESOURCE)
    assert child.name == "DELETE" and child.kind is SpanKind.CLIENT
    assert child.context is not None and child.context.span_id == 0x99
    assert child.parent is not None and child.parent.span_id == 0x12  # the server span
    attributes = dict(child.attributes or {})
    assert attributes["http.response.status_code"] == 404
    assert attributes["error.type"] == "http_404"
    assert attributes["gateway.deployment"] == "p/m"
    assert not [name for name in attributes if name.startswith("gen_ai.")]
    assert child.start_time == int(TS * 1e9) + 1_000_000
    assert child.status.status_code is StatusCode.ERROR


def test_an_upstream_call_without_a_span_id_has_no_span() -> None:
    attempts = [{"deployment": "p/m", "status": 200, "start_ms": 1.0, "duration_ms": 0.5}]
    spans = http_spans(record("GET", "/x", attempts=attempts), IDS, [None], RESOURCE)
    assert len(spans) == 1
