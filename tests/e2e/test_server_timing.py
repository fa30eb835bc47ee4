"""Per-request timing for the client: `Server-Timing` and `x-gateway-overhead-ms` on the
response, agreeing with the request's record."""

from __future__ import annotations

import re

import httpx
import openai

from tests.e2e.conftest import GATEWAY_KEY
from tests.e2e.guarded_gateway import auth, chat_request
from tests.e2e.records import wait_for_record
from tests.procs import Proc

_ENTRY = re.compile(r"(\w+);dur=([0-9.]+)")


def timings(header: str) -> dict[str, float]:
    return {name: float(value) for name, value in _ENTRY.findall(header)}


def test_the_sdk_sees_timings_that_agree_with_the_record(gateway: Proc) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as client:
        for _ in range(3):
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-mock", messages=[{"role": "user", "content": "time me"}]
            )
            raw.parse()
            found = timings(raw.headers["server-timing"])
            overhead = float(raw.headers["x-gateway-overhead-ms"])
            assert gateway.log_path is not None
            record = wait_for_record(gateway.log_path, raw.headers["x-request-id"])
            upstream = sum(a["duration_ms"] for a in record["attempts"])
            assert abs(found["upstream"] - upstream) < 0.01  # the same attempts, summed
            # The header is the record's response start, to the rounding of both.
            assert abs(found["gateway"] - record["response_start_ms"]) < 0.002
            assert abs(found["gateway"] - found["upstream"] - overhead) < 0.01
            assert "guardrails" not in found  # this key's policy has none
            # The record's overhead and latency run on to the last byte: never less.
            assert overhead <= record["overhead_ms"] + 0.01
            assert found["gateway"] <= record["latency_ms"] + 0.002


def test_guardrail_time_is_reported_when_the_key_has_guardrails(guarded: Proc) -> None:
    response = httpx.post(
        guarded.url + "/v1/chat/completions",
        json=chat_request("mail me at jane@example.com"),
        headers=auth("restore"),
    )
    assert response.status_code == 200
    found = timings(response.headers["server-timing"])
    assert guarded.log_path is not None
    record = wait_for_record(guarded.log_path, response.headers["x-request-id"])
    assert found["guardrails"] > 0 and record["guardrails_ms"] >= found["guardrails"]


def test_errors_carry_the_timing_too(gateway: Proc) -> None:
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]},
        headers={"authorization": f"Bearer {GATEWAY_KEY}"},
    )
    assert response.status_code == 404
    assert "gateway" in timings(response.headers["server-timing"])
    assert float(response.headers["x-gateway-overhead-ms"]) >= 0
