"""OpenTelemetry traces from a real gateway to a real OTLP/HTTP receiver: one server span per
request with one child per upstream attempt and the GenAI attributes, the client's trace
continued and propagated upstream; with the collector down, requests are unaffected and the
drop counter rises."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conditions import wait_until
from tests.e2e.otlp_receiver import ReceivedSpan, Receiver, running_receiver
from tests.procs import Proc, start_gateway

KEY = "sk-tracing-test"
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


def config(upstream: Proc, endpoint: str) -> str:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    return f"""[tracing]
endpoint = "{endpoint}"
service_name = "gateway-under-test"
export_timeout_s = 0.5

[[providers]]
name = "mock"
type = "openai"
base_url = "{upstream.url}/v1"

[[models]]
name = "flaky"
max_attempts = 1
fallbacks = ["echo"]
[[models.deployments]]
provider = "mock"
model = "fail-500"

[[models]]
name = "echo"
[[models.deployments]]
provider = "mock"
model = "echo"

[[providers]]
name = "mock-responses"
type = "openai"
base_url = "{upstream.url}/v1"
responses = true

[[models]]
name = "stored"
[[models.deployments]]
provider = "mock-responses"
model = "echo"

[[keys]]
id = "traced"
key_sha256 = "{digest}"
"""


@pytest.fixture(scope="module")
def traced(
    tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc
) -> Iterator[tuple[Proc, Receiver, ThreadingHTTPServer]]:
    root: Path = tmp_path_factory.mktemp("tracing")
    with running_receiver() as (receiver, server):
        (root / "config.toml").write_text(config(mock_upstream, receiver.url))
        proc = start_gateway(root / "config.toml")
        yield proc, receiver, server
        proc.stop()


def post(proc: Proc, model: str, **headers: str) -> httpx.Response:
    return httpx.post(
        proc.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "trace me"}]},
        headers={"authorization": f"Bearer {KEY}", **headers},
        timeout=10,
    )


def test_a_fallback_is_one_server_span_with_two_attempt_children(
    traced: tuple[Proc, Receiver, ThreadingHTTPServer], mock_upstream: Proc
) -> None:
    proc, receiver, _ = traced
    parent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    response = post(proc, "flaky", traceparent=parent)
    assert response.status_code == 200 and response.headers["x-gateway-attempts"] == "2"
    sent = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["headers"]
    upstream_parent = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01", sent["traceparent"])
    assert upstream_parent is not None and upstream_parent[1] == CLIENT_TRACE

    def trace() -> list[ReceivedSpan] | None:
        spans = [s for s in receiver.snapshot() if s.trace_id == CLIENT_TRACE]
        return spans if len(spans) >= 3 else None

    spans = wait_until(trace, 10, message="the spans never reached the receiver")
    (server,) = [s for s in spans if s.kind == 2]  # SPAN_KIND_SERVER
    attempts = sorted(
        (s for s in spans if s.kind == 3), key=lambda s: s.attributes["gateway.attempt"]
    )
    assert len(attempts) == 2 and len(spans) == 3
    assert server.parent_span_id == CLIENT_SPAN and server.service == "gateway-under-test"
    assert all(a.parent_span_id == server.span_id for a in attempts)
    # The upstream's traceparent names the attempt that reached it (the fallback).
    assert attempts[1].span_id == upstream_parent[2]
    assert server.attributes["gen_ai.operation.name"] == "chat"
    assert server.attributes["gen_ai.request.model"] == "flaky"
    assert server.attributes["gen_ai.provider.name"] == "openai"
    assert server.attributes["gen_ai.usage.input_tokens"] > 0
    assert server.attributes["gen_ai.usage.output_tokens"] > 0
    assert server.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert server.attributes["gateway.fallback_used"] is True
    assert server.attributes["gateway.cache"] == "bypass"
    assert attempts[0].attributes["error.type"] == "http_500"
    assert attempts[1].attributes["gateway.deployment"] == "mock/echo"
    # Each client span names what the provider was asked for (GenAI conventions), the
    # gateway's model beside it.
    assert [a.attributes["gen_ai.request.model"] for a in attempts] == ["fail-500", "echo"]
    assert [a.attributes["gateway.model"] for a in attempts] == ["flaky", "echo"]
    assert all(a.attributes["gen_ai.provider.name"] == "openai" for a in attempts)
    assert "gen_ai.input.messages" not in server.attributes  # capture_content is off


def upstream_headers(mock_upstream: Proc) -> dict[str, str]:
    stats = httpx.get(mock_upstream.url + "/_mock/stats").json()
    headers: dict[str, str] = stats["last_request"]["headers"]
    return headers


def test_the_clients_tracestate_goes_upstream_with_the_attempts_traceparent(
    traced: tuple[Proc, Receiver, ThreadingHTTPServer], mock_upstream: Proc
) -> None:
    proc, _, _ = traced
    state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    response = post(
        proc, "echo", traceparent=f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01", tracestate=state
    )
    assert response.status_code == 200
    sent = upstream_headers(mock_upstream)
    assert sent["traceparent"].startswith(f"00-{CLIENT_TRACE}-")
    assert sent["traceparent"] != f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"  # names the attempt
    assert sent["tracestate"] == state


def test_an_unsampled_client_trace_is_passed_upstream_unrecorded(
    traced: tuple[Proc, Receiver, ThreadingHTTPServer], mock_upstream: Proc
) -> None:
    # The client decided not to record its trace: the gateway records no span, and the
    # upstream is told the same (else it starts a trace of its own, sampled or not).
    proc, receiver, _ = traced
    unsampled_trace = "0af7651916cd43dd8448eb211c80319c"
    parent = f"00-{unsampled_trace}-b7ad6b7169203331-00"
    response = post(proc, "echo", traceparent=parent, tracestate="rojo=1")
    assert response.status_code == 200
    sent = upstream_headers(mock_upstream)
    assert sent["traceparent"] == parent and sent["tracestate"] == "rojo=1"
    # A traced request after it: once its spans arrived, the unsampled one's would have too.
    post(proc, "echo", traceparent=f"00-{'1' * 32}-{CLIENT_SPAN}-01")
    wait_until(
        lambda: any(s.trace_id == "1" * 32 for s in receiver.snapshot()) or None,
        10,
        message="the traced request's spans never arrived",
    )
    assert not [s for s in receiver.snapshot() if s.trace_id == unsampled_trace]


def test_two_traceparent_headers_start_a_new_trace(
    traced: tuple[Proc, Receiver, ThreadingHTTPServer], mock_upstream: Proc
) -> None:
    proc, _, _ = traced
    other = "0af7651916cd43dd8448eb211c80319c"
    response = httpx.post(
        proc.url + "/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "trace me"}]},
        headers=[
            ("authorization", f"Bearer {KEY}"),
            ("traceparent", f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"),
            ("traceparent", f"00-{other}-{CLIENT_SPAN}-01"),
            ("tracestate", "a=1"),
        ],
        timeout=10,
    )
    assert response.status_code == 200
    sent = upstream_headers(mock_upstream)
    assert sent["traceparent"][3:35] not in (CLIENT_TRACE, other)
    assert "tracestate" not in sent  # read only with a valid traceparent (W3C)


def test_a_model_nobody_configured_neither_names_the_span_nor_bloats_it(
    traced: tuple[Proc, Receiver, ThreadingHTTPServer],
) -> None:
    # Any string a client sends as `model` would else be a new span name (an operation in the
    # backend's index), and a megabyte one a batch the collector refuses.
    proc, receiver, _ = traced
    trace = "2" * 32
    response = post(
        proc, "no-such-model-" + "x" * 100_000, traceparent=f"00-{trace}-{CLIENT_SPAN}-01"
    )
    assert response.status_code == 404
    (span,) = wait_until(
        lambda: [s for s in receiver.snapshot() if s.trace_id == trace] or None,
        10,
        message="the refused request's span never arrived",
    )
    assert span.name == "chat"
    assert span.attributes["gen_ai.request.model"] == ("no-such-model-" + "x" * 242)
    # A configured model names it.
    trace = "3" * 32
    post(proc, "echo", traceparent=f"00-{trace}-{CLIENT_SPAN}-01")
    spans = wait_until(
        lambda: [s for s in receiver.snapshot() if s.trace_id == trace and s.kind == 2] or None,
        10,
        message="the served request's span never arrived",
    )
    assert spans[0].name == "chat echo"


def server_span(receiver: Receiver, trace: str) -> ReceivedSpan:
    (span,) = wait_until(
        lambda: [s for s in receiver.snapshot() if s.trace_id == trace and s.kind == 2] or None,
        10,
        message="the request's server span never arrived",
    )
    return span


@pytest.mark.parametrize(
    ("path", "name", "status"),
    [("/v1/models", "GET /v1/models", 200), ("/v1/no/such/route/42", "GET", 404)],
)
def test_a_route_that_is_no_genai_operation_is_one_http_server_span(
    traced: tuple[Proc, Receiver, ThreadingHTTPServer], path: str, name: str, status: int
) -> None:
    # Named as the HTTP conventions name a server span: the route's template, never the path
    # (the 404 has no route: its method alone), and no `gen_ai.*` attribute.
    proc, receiver, _ = traced
    trace = hashlib.md5(path.encode()).hexdigest()
    response = httpx.get(
        proc.url + path,
        headers={"authorization": f"Bearer {KEY}", "traceparent": f"00-{trace}-{CLIENT_SPAN}-01"},
        timeout=10,
    )
    assert response.status_code == status
    span = server_span(receiver, trace)
    assert span.name == name and span.parent_span_id == CLIENT_SPAN
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["http.response.status_code"] == status
    assert not [a for a in span.attributes if a.startswith("gen_ai.")]


def test_a_token_count_is_an_http_server_span_not_a_chat(
    traced: tuple[Proc, Receiver, ThreadingHTTPServer],
) -> None:
    # Counting generates nothing (the GenAI conventions have no such operation): the HTTP
    # request it was, as the other routes that are no GenAI operation are traced.
    proc, receiver, _ = traced
    trace = "7" * 32
    response = httpx.post(
        proc.url + "/v1/messages/count_tokens",
        json={"model": "echo", "messages": [{"role": "user", "content": "count me"}]},
        headers={"authorization": f"Bearer {KEY}", "traceparent": f"00-{trace}-{CLIENT_SPAN}-01"},
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["input_tokens"] > 0
    span = server_span(receiver, trace)
    assert span.name == "POST /v1/messages/count_tokens"
    assert span.attributes["http.route"] == "/v1/messages/count_tokens"
    assert span.attributes["http.request.method"] == "POST"
    assert not [a for a in span.attributes if a.startswith("gen_ai.")]


def test_a_stored_response_fetched_upstream_is_a_client_child_named_in_its_traceparent(
    traced: tuple[Proc, Receiver, ThreadingHTTPServer], mock_upstream: Proc
) -> None:
    proc, receiver, _ = traced
    auth = {"authorization": f"Bearer {KEY}"}
    made = httpx.post(
        proc.url + "/v1/responses", json={"model": "stored", "input": "keep"}, headers=auth
    )
    assert made.status_code == 200
    trace = "5" * 32
    response = httpx.get(
        f"{proc.url}/v1/responses/{made.json()['id']}",
        headers={**auth, "traceparent": f"00-{trace}-{CLIENT_SPAN}-01"},
        timeout=10,
    )
    assert response.status_code == 200
    sent = upstream_headers(mock_upstream)
    upstream_parent = re.fullmatch(rf"00-{trace}-([0-9a-f]{{16}})-01", sent["traceparent"])
    assert upstream_parent is not None
    server = server_span(receiver, trace)
    assert server.name == "GET /v1/responses/{response_id}"
    assert server.attributes["http.route"] == "/v1/responses/{response_id}"
    (child,) = wait_until(
        lambda: [s for s in receiver.snapshot() if s.trace_id == trace and s.kind == 3] or None,
        10,
        message="the upstream call's span never arrived",
    )
    assert child.parent_span_id == server.span_id and child.span_id == upstream_parent[1]
    assert child.name == "GET" and child.attributes["http.response.status_code"] == 200
    # Unsampled by the client: no span here, and the upstream is sent the client's decision.
    parent = f"00-{'6' * 32}-{CLIENT_SPAN}-00"
    response = httpx.get(
        f"{proc.url}/v1/responses/{made.json()['id']}",
        headers={**auth, "traceparent": parent},
        timeout=10,
    )
    assert response.status_code == 200 and upstream_headers(mock_upstream)["traceparent"] == parent


def test_collector_down_requests_unaffected_and_drops_counted(
    traced: tuple[Proc, Receiver, ThreadingHTTPServer],
) -> None:
    proc, _, server = traced
    server.shutdown()
    server.server_close()
    for _ in range(5):
        response = post(proc, "echo")
        assert response.status_code == 200

    def dropped() -> float | None:
        text = httpx.get(proc.url + "/metrics").text
        match = re.search(
            r'gateway_trace_spans_dropped_total\{reason="export_failed"\} ([0-9.e+]+)', text
        )
        return float(match[1]) if match and float(match[1]) > 0 else None

    assert wait_until(dropped, 15, interval_s=0.2, message="no drop counted") >= 1
