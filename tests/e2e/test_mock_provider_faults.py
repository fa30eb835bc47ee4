"""The real mock provider process over loopback, with plain httpx: fault models (5xx, 429,
timeouts, malformed bodies) and a client that leaves a stream. The servers (`mock`,
`slow_mock`) are fixtures in conftest.py."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conditions import wait_until
from tests.e2e.mock_provider_direct import MockServer, chat_body


def test_fail_500_and_429_bodies(mock: MockServer) -> None:
    failed = httpx.post(mock.url + "/v1/chat/completions", json=chat_body("fail-500"))
    assert failed.status_code == 500 and set(failed.json()["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }
    limited = httpx.post(mock.url + "/v1/chat/completions", json=chat_body("fail-429"))
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    bad = httpx.post(mock.url + "/v1/chat/completions", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


def test_fail_timeout_never_answers(mock: MockServer) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(mock.url + "/v1/chat/completions", json=chat_body("fail-timeout"), timeout=0.3)
    assert httpx.get(mock.url + "/healthz").status_code == 200


def test_malformed_bodies(mock: MockServer) -> None:
    response = httpx.post(mock.url + "/v1/chat/completions", json=chat_body("malformed"))
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    stream = httpx.post(mock.url + "/v1/chat/completions", json=chat_body("malformed", stream=True))
    data_line = stream.text.split("\n")[0]
    assert data_line.startswith("data: ")
    with pytest.raises(json.JSONDecodeError):
        json.loads(data_line[len("data: ") :])


def test_client_cancelling_a_stream_is_seen_within_a_second(slow_mock: MockServer) -> None:
    before = slow_mock.stats()["cancelled_streams"]
    body = chat_body("mock-small", stream=True)
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", slow_mock.url + "/v1/chat/completions", json=body) as response,
    ):
        chunks = response.iter_raw()
        next(chunks)
        assert slow_mock.stats()["active_streams"] == 1
    wait_until(
        lambda: slow_mock.stats()["cancelled_streams"] > before,
        1.0,
        message="the mock still streams after the client left",
    )
    assert slow_mock.stats()["active_streams"] == 0
