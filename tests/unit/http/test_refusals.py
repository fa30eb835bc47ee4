"""Answers the HTTP server writes itself: the route's error shape, a complete response."""

from __future__ import annotations

import logging

import orjson
import pytest

from gateway.errors import HeadersTooLarge, RequestTimeout
from gateway.http.refusals import RateLimitedLog, refusal_bytes, wire_for_url


@pytest.mark.parametrize(
    ("url", "wire"),
    [
        (b"/v1/messages", "anthropic"),
        (b"/v1/messages/count_tokens?beta=true", "anthropic"),
        (b"http://gw:8080/v1/messages", "anthropic"),
        (b"/v1/chat/completions", "openai"),
        (b"/healthz", "openai"),
        (b"", "openai"),
        (b"/v1/chat?x=/v1/messages", "openai"),
    ],
)
def test_the_shape_follows_the_route_asked_for(url: bytes, wire: str) -> None:
    assert wire_for_url(url) == wire


def test_a_refusal_is_a_complete_json_response_that_closes() -> None:
    data = refusal_bytes(HeadersTooLarge("too big"), "openai", (("retry-after", "1"),))
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 431 Request Header Fields Too Large"
    assert "connection: close" in lines and "retry-after: 1" in lines
    assert f"content-length: {len(body)}" in lines
    assert orjson.loads(body)["error"]["code"] == "headers_too_large"


def test_the_anthropic_shape_for_a_timeout() -> None:
    body = refusal_bytes(RequestTimeout("slow"), "anthropic").partition(b"\r\n\r\n")[2]
    assert orjson.loads(body) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "slow"},
    }


def test_a_flood_of_refusals_logs_one_line_a_second_per_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = RateLimitedLog(logging.getLogger("test.refusals"), every_s=3600)
    with caplog.at_level(logging.WARNING, "test.refusals"):
        for _ in range(5):
            log.warning("slow", "408")
        log.warning("big", "431")
    assert [r.getMessage() for r in caplog.records] == ["408", "431"]
    log._last["slow"] = -1e9  # the second passed
    with caplog.at_level(logging.WARNING, "test.refusals"):
        log.warning("slow", "408")
    assert caplog.records[-1].getMessage() == "408 (4 more since the last such line)"
