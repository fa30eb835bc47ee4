"""Provider errors through the gateway, as the real SDKs see them, against an upstream that
answers with the real bodies and headers of OpenAI and Anthropic (tests/e2e/raw_upstream.py):
codes and params survive, rate limits are waits and not faults, a client that leaves cancels the
upstream call, and operators see failed attempts in the log."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic.types import MessageParam
from openai.types.chat import ChatCompletionMessageParam

from tests.conditions import wait_until
from tests.e2e.raw_upstream import HANG, RawUpstream, Reply
from tests.e2e.records import read_records, wait_for_record
from tests.procs import Proc, start_gateway

KEY = "sk-upstream-errors-test"
LIMITED_KEY = "sk-upstream-errors-limited"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
CLAUDE_MESSAGES: list[MessageParam] = [{"role": "user", "content": "hi"}]

CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages "
        "resulted in 130412 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}


def _rate_limited(wait: dict[str, str]) -> Reply:
    body = {
        "error": {
            "message": "Rate limit reached for gpt-4o in organization org-x on requests per min "
            "(RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    headers = {"x-request-id": "req_limited", "x-ratelimit-remaining-requests": "0", **wait}
    return Reply(429, body, headers)


QUOTA = Reply(
    429,
    {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing "
            "details.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    },
    {"x-request-id": "req_quota"},
)
OVERLOADED = Reply(
    529,
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    {"request-id": "req_011CWanthropic"},
)
# Gemini's OpenAI-compatible API: Google's error object, in a list; a 429's wait in its body.
GEMINI_MISSING_SIGNATURE = (
    "Function call is missing a thought_signature in functionCall parts. This is required for "
    "tools to work correctly, and missing thought_signature may lead to degraded model "
    "performance. Additional data, function call `default_api:Bash` , position 3. Please refer "
    "to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
)
GEMINI_400 = Reply(
    400,
    json.dumps(
        [
            {
                "error": {
                    "code": 400,
                    "message": GEMINI_MISSING_SIGNATURE,
                    "status": "INVALID_ARGUMENT",
                }
            }
        ]
    ).encode(),
)
GEMINI_429 = Reply(
    429,
    json.dumps(
        [
            {
                "error": {
                    "code": 429,
                    "message": "You exceeded your current quota. Please retry in 37.4s.",
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
                    ],
                }
            }
        ]
    ).encode(),
)
ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hello"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
}
REPLIES: dict[str, Reply | None] = {
    "long": Reply(400, CONTEXT, {"x-request-id": "req_context"}),
    "limited-a": _rate_limited({"retry-after": "20"}),
    "limited-b": _rate_limited({"retry-after-ms": "2500"}),
    "limited-c": _rate_limited({"retry-after": "40"}),
    "quota-a": QUOTA,
    "quota-b": QUOTA,
    "overloaded": OVERLOADED,
    "gemini-400": GEMINI_400,
    "gemini-429": GEMINI_429,
    "ok": Reply(
        200,
        ANSWER,
        {
            "x-request-id": "req_ok",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
        },
    ),
    "ok-fallback": Reply(200, ANSWER),
    "slow": HANG,
}


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _config(upstream: RawUpstream, log: Path, dead_port: int) -> str:
    def model(name: str, provider: str, *upstream_models: str, extra: str = "") -> str:
        text = f'[[models]]\nname = "{name}"\nstrategy = "round_robin"\n{extra}'
        for upstream_model in upstream_models:
            text += f'[[models.deployments]]\nprovider = "{provider}"\nmodel = "{upstream_model}"\n'
        return text + "first_token_timeout_s = 5\n" if upstream_models == ("slow",) else text

    return "\n".join(
        [
            f'[logging]\npath = "{log}"\n',
            # One fault opens a breaker: a rate limit counted as one would show at once.
            "[routing]\nbreaker_failures = 1\nmax_attempts = 3\nbackoff_base_s = 0.01\n",
            f'[[providers]]\nname = "raw"\ntype = "openai"\nbase_url = "{upstream.url}/v1"\n',
            f'[[providers]]\nname = "ant"\ntype = "anthropic"\nbase_url = "{upstream.url}"\n',
            f'[[providers]]\nname = "dead"\ntype = "openai"\n'
            f'base_url = "http://127.0.0.1:{dead_port}/v1"\n',
            model("long", "raw", "long"),
            model("limited", "raw", "limited-a", "limited-b", extra='fallbacks = ["backup"]\n'),
            model("backup", "raw", "limited-c"),
            model("no-quota", "raw", "quota-a", "quota-b"),
            model("claude", "ant", "overloaded"),
            model("gemini-bad", "raw", "gemini-400"),
            model("gemini-busy", "raw", "gemini-429"),
            model("fine", "raw", "ok"),
            model("slow", "raw", "slow", extra='fallbacks = ["rescue"]\n'),
            model("rescue", "raw", "ok-fallback"),
            model("nowhere", "dead", "gone"),
            f'[[keys]]\nid = "k"\nkey_sha256 = "{_sha(KEY)}"\n',
            f'[[keys]]\nid = "lim"\nkey_sha256 = "{_sha(LIMITED_KEY)}"\npolicy = "lim"\n',
        ]
    )


@pytest.fixture(scope="module")
def upstream() -> Iterator[RawUpstream]:
    server = RawUpstream(REPLIES)
    yield server
    server.close()


@pytest.fixture(scope="module")
def dead_port() -> Iterator[int]:
    """A port nothing answers on for the module's life: bound and never listening, so no server
    started meanwhile can take it (one merely found free may be given to the next bind)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, upstream: RawUpstream, dead_port: int
) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("upstream-errors")
    (root / "policies").mkdir()
    (root / "policies" / "lim.toml").write_text("[limits]\nrpm = 1000\n")
    (root / "policies" / "default.toml").write_text("")
    log = root / "requests.jsonl"
    (root / "gateway.toml").write_text(_config(upstream, log, dead_port))
    proc = start_gateway(root / "gateway.toml")
    proc.log_path = log
    yield proc
    proc.stop()


def _openai(gateway: Proc, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=15)


def test_the_sdk_exception_carries_the_upstreams_code_and_param(gateway: Proc) -> None:
    with _openai(gateway) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="long", messages=MESSAGES)
    error = caught.value
    assert (error.code, error.param, error.type) == (
        "context_length_exceeded",
        "messages",
        "invalid_request_error",
    )
    assert error.message.startswith("Error code: 400") and "maximum context length" in error.message
    headers = error.response.headers
    assert headers["x-upstream-request-id"] == "req_context"
    assert gateway.log_path is not None
    record = wait_for_record(gateway.log_path, headers["x-request-id"])
    assert record["upstream_request_id"] == "req_context" and record["status"] == 400
    # An Anthropic client gets the same error in its own shape, after the words Anthropic
    # begins an overflow with (its shape has no code).
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as client_a,
        pytest.raises(anthropic.BadRequestError) as caught_a,
    ):
        client_a.messages.create(model="long", max_tokens=5, messages=CLAUDE_MESSAGES)
    message = f"prompt is too long: {CONTEXT['error']['message']}"
    assert caught_a.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
    }


def test_a_rate_limit_is_429_with_the_shortest_wait_after_every_deployment(
    gateway: Proc, upstream: RawUpstream
) -> None:
    before = {m: upstream.calls[m] for m in ("limited-a", "limited-b", "limited-c")}
    with _openai(gateway) as client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="limited", messages=MESSAGES)
    error = caught.value
    assert error.status_code == 429 and error.code == "rate_limit_exceeded"
    assert error.type == "requests"
    headers = error.response.headers
    # Both deployments and the fallback were tried once each; the shortest wait is limited-b's
    # retry-after-ms 2500 (less what the other tries took).
    assert {m: upstream.calls[m] - n for m, n in before.items()} == dict.fromkeys(before, 1)
    assert headers["retry-after"] == "3" and 2000 < int(headers["retry-after-ms"]) <= 2500
    assert headers["x-gateway-attempts"] == "3"
    assert headers["x-ratelimit-remaining-requests"] == "0"  # the upstream's, the gateway has none
    # Benched, not broken: the next request calls nobody and is refused with what is left of the
    # wait, and the breakers (breaker_failures = 1) stayed closed.
    again = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "limited", "messages": MESSAGES},
        headers={"authorization": f"Bearer {KEY}"},
    )
    assert again.status_code == 429 and int(again.headers["retry-after"]) <= 3
    assert {m: upstream.calls[m] - n for m, n in before.items()} == dict.fromkeys(before, 1)
    metrics = httpx.get(gateway.url + "/metrics").text
    for name in ("limited-a", "limited-b"):
        assert f'gateway_deployment_up{{deployment="raw/{name}"}} 1.0' in metrics


def test_geminis_errors_keep_their_message_and_its_wait(gateway: Proc) -> None:
    with _openai(gateway) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="gemini-bad", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(model="gemini-busy", messages=MESSAGES)
    assert refused.value.message.endswith(f"400 - {GEMINI_MISSING_SIGNATURE}")
    assert refused.value.code == "INVALID_ARGUMENT"
    assert "- You exceeded your current quota" in limited.value.message
    assert limited.value.code == "rate_limit_exceeded"
    # No Retry-After header came: the wait is the body's (the deployment benched that long).
    assert 35 <= int(limited.value.response.headers["retry-after"]) <= 37


def test_insufficient_quota_is_tried_once_per_deployment(
    gateway: Proc, upstream: RawUpstream
) -> None:
    with _openai(gateway) as client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="no-quota", messages=MESSAGES)
    assert caught.value.code == "insufficient_quota" and caught.value.type == "insufficient_quota"
    assert (upstream.calls["quota-a"], upstream.calls["quota-b"]) == (1, 1)


def test_anthropic_overloaded_is_529_on_messages_and_503_on_chat(gateway: Proc) -> None:
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as client,
        pytest.raises(anthropic.APIStatusError) as caught,
    ):
        client.messages.create(model="claude", max_tokens=5, messages=CLAUDE_MESSAGES)
    assert caught.value.status_code == 529
    assert caught.value.body == OVERLOADED.body
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert caught.value.response.headers["x-upstream-request-id"] == "req_011CWanthropic"
    # Still benched: the OpenAI route answers at once, in its own shape.
    with _openai(gateway) as oai, pytest.raises(openai.InternalServerError) as caught_o:
        oai.chat.completions.create(model="claude", messages=MESSAGES)
    assert caught_o.value.status_code == 503 and caught_o.value.code == "overloaded"
    assert int(caught_o.value.response.headers["retry-after"]) >= 1


def test_upstream_rate_limit_headers_pass_unless_the_gateway_sets_its_own(gateway: Proc) -> None:
    body = {"model": "fine", "messages": MESSAGES}
    plain = httpx.post(
        gateway.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}
    )
    assert plain.status_code == 200 and plain.headers["x-upstream-request-id"] == "req_ok"
    assert plain.headers["x-ratelimit-remaining-requests"] == "9999"
    limited = httpx.post(
        gateway.url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {LIMITED_KEY}"},
    )
    assert limited.status_code == 200 and limited.headers["x-ratelimit-limit-requests"] == "1000"
    assert limited.headers["x-ratelimit-remaining-requests"] != "9999"


def test_a_client_that_leaves_a_json_request_closes_the_upstream_call(
    gateway: Proc, upstream: RawUpstream
) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    body = b'{"model": "slow", "messages": [{"role": "user", "content": "hi"}]}'
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\n"
        f"authorization: Bearer {KEY}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    delays = []
    for trial in range(1, 4):  # the best of three: a loaded machine only adds delay
        with socket.create_connection((host, int(port))) as client:
            client.sendall(request)
            hung = upstream.wait_hung(trial)
            client.close()
            left = time.monotonic()
        assert hung.done.wait(10), "the gateway never closed the upstream connection"
        assert hung.closed is not None
        delays.append(hung.closed - left)
        if delays[-1] < 0.1:
            break
    assert min(delays) < 0.1, f"upstream closed {delays} s after the client left"
    # The record says the client left; nothing was retried and no fallback was called.
    assert gateway.log_path is not None
    records = _records_of(gateway.log_path, "slow", trial)
    assert all(r["status"] == 499 and r["error_type"] == "client_closed" for r in records)
    assert all(len(r["attempts"]) == 1 for r in records)
    assert upstream.calls["slow"] == trial and upstream.calls["ok-fallback"] == 0


def _records_of(log: Path, model: str, count: int) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]] | None:
        records = [r for r in read_records(log) if r["model"] == model]
        return records if len(records) >= count else None

    return wait_until(found, 5, message=f"{count} records of {model}")


def test_a_failed_attempt_is_logged_as_a_warning(gateway: Proc) -> None:
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "nowhere", "messages": MESSAGES},
        headers={"authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 502
    request_id = response.headers["x-request-id"]
    # An attempt was made and failed to connect, so a line is due (a 502 without an attempt,
    # from an open breaker, logs none): the record says so, written after the answer.
    assert gateway.log_path is not None
    record = wait_for_record(gateway.log_path, request_id)
    assert [(a["deployment"], a["error"]) for a in record["attempts"]] == [("dead/gone", "connect")]

    def line() -> str | None:
        return next((x for x in gateway.output if f"request={request_id}" in x), None)

    try:
        found = wait_until(line, 5, message="no warning line for the failed attempt")
    except AssertionError as missing:  # what the gateway said instead
        raise AssertionError(f"{missing}; its output:\n{''.join(gateway.output)}") from None
    assert "upstream attempt failed: deployment=dead/gone cause=connect" in found
