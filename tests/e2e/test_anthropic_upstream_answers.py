"""What an Anthropic upstream really sends, through the gateway, as the real SDKs see it, from an
upstream that answers with Anthropic's own events (tests/e2e/raw_upstream.py): an `error`
event in the middle of a stream (Anthropic's `overloaded_error` after `message_start`)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import anthropic
import openai
import pytest
from anthropic.types import MessageParam
from openai.types.chat import ChatCompletionMessageParam

from tests.e2e.raw_upstream import RawUpstream, Reply
from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_gateway

KEY = "sk-anthropic-upstream-test"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
CLAUDE_MESSAGES: list[MessageParam] = [{"role": "user", "content": "hi"}]
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def _event(name: str, data: Mapping[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _start(model: str) -> list[bytes]:
    message: dict[str, object] = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "Hi"},
    }
    return [
        _event("message_start", {"type": "message_start", "message": message}),
        _event("ping", {"type": "ping"}),
        _event("content_block_start", block),
        _event("content_block_delta", delta),
    ]


def _stream(events: list[bytes], then: list[bytes] | None = None) -> Reply:
    """A stream of `events`; with `then`, those follow once the test releases them."""
    held = threading.Event() if then is not None else None
    rest = b"".join(then or [])
    return Reply(
        200, b"".join(events), {"request-id": "req_stream"}, "text/event-stream", rest, held
    )


# Anthropic's rate-limit headers, as on every answer (reset: an RFC 3339 time).
RATE_LIMITS = {
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": "2026-12-06T04:20:01Z",
    "anthropic-ratelimit-tokens-limit": "480000",
    "anthropic-ratelimit-tokens-remaining": "479000",
    "anthropic-ratelimit-tokens-reset": "2026-12-06T04:20:01Z",
    "anthropic-ratelimit-input-tokens-limit": "400000",
    "anthropic-ratelimit-input-tokens-remaining": "399000",
}
MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Hello"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 1},
}
LIMITED = {
    "type": "error",
    "error": {
        "type": "rate_limit_error",
        "message": "This request would exceed the rate limit for your organization of 4000 "
        "requests per minute.",
    },
}
LIMITED_HEADERS = {
    **RATE_LIMITS,
    "anthropic-ratelimit-requests-remaining": "0",
    "retry-after": "7",
    "request-id": "req_limited",
}

# Anthropic says a retry cannot help (`x-should-retry: false`) on a 500.
NO_RETRY = {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}

REPLIES: dict[str, Reply | None] = {
    "no-retry": Reply(500, NO_RETRY, {"x-should-retry": "false", "request-id": "req_no_retry"}),
    "limits": Reply(200, MESSAGE, {**RATE_LIMITS, "request-id": "req_ok"}),
    "limited": Reply(429, LIMITED, LIMITED_HEADERS),
    "limited-too": Reply(429, LIMITED, LIMITED_HEADERS),  # the first is benched after its 429
    # Anthropic's overload, said after the stream began (its status was already 200): once the
    # client has its first event, and at once (in the same read as `message_start`).
    "mid-overloaded": _stream(_start("mid-overloaded"), [_event("error", OVERLOADED)]),
    "mid-overloaded-too": _stream(_start("mid-overloaded-too"), [_event("error", OVERLOADED)]),
    "early-overloaded": _stream([*_start("early-overloaded"), _event("error", OVERLOADED)]),
}


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _config(upstream: RawUpstream, log: Path) -> str:
    text = (
        f'[logging]\npath = "{log}"\n\n'
        # One fault opens a breaker: an overload counted as one would show at once.
        "[routing]\nbreaker_failures = 1\n\n"
        f'[[providers]]\nname = "ant"\ntype = "anthropic"\nbase_url = "{upstream.url}"\n\n'
    )
    for name in REPLIES:
        text += f'[[models]]\nname = "{name}"\n'
        text += f'[[models.deployments]]\nprovider = "ant"\nmodel = "{name}"\n\n'
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{_sha(KEY)}"\n'


@pytest.fixture(scope="module")
def upstream() -> Iterator[RawUpstream]:
    server = RawUpstream(REPLIES)
    yield server
    server.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: RawUpstream) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("anthropic-upstream")
    log = root / "requests.jsonl"
    (root / "gateway.toml").write_text(_config(upstream, log))
    proc = start_gateway(root / "gateway.toml")
    proc.log_path = log
    yield proc
    proc.stop()


def _release(upstream: RawUpstream, model: str) -> None:
    held = upstream.replies[model]
    assert held is not None and held.held is not None
    held.held.set()


def test_an_overload_mid_stream_keeps_its_type_and_benches_without_opening_the_breaker(
    gateway: Proc, upstream: RawUpstream
) -> None:
    assert gateway.log_path is not None
    claude = anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0, timeout=15)
    with claude, pytest.raises(anthropic.APIStatusError) as caught:
        with claude.messages.stream(
            model="mid-overloaded", max_tokens=5, messages=CLAUDE_MESSAGES
        ) as stream:
            for _ in stream:
                _release(upstream, "mid-overloaded")  # the client has its first event
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "overloaded_error"
    assert "Overloaded" in body["error"]["message"]
    record = wait_for_record(gateway.log_path, caught.value.response.headers["x-request-id"])
    assert record["status"] == 200 and record["error_type"] == "overloaded"
    # A 529 said late: the deployment is benched for [routing] rate_limit_cooldown_s (the
    # stream's 200 named no wait), so the next request is answered the overload at once, with
    # the wait left, instead of going straight back to the overloaded upstream.
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client,
        pytest.raises(openai.InternalServerError) as caught_o,
    ):
        client.chat.completions.create(model="mid-overloaded", messages=MESSAGES)
    assert upstream.calls["mid-overloaded"] == 1
    assert caught_o.value.status_code == 503 and caught_o.value.code == "overloaded"
    assert 1 <= int(caught_o.value.response.headers["retry-after"]) <= 5
    record = wait_for_record(gateway.log_path, caught_o.value.response.headers["x-request-id"])
    assert record["attempts"] == [] and record["error_type"] == "overloaded"


def test_an_overload_mid_stream_reaches_openai_clients_as_overloaded(
    gateway: Proc, upstream: RawUpstream
) -> None:
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client,
        pytest.raises(openai.APIError) as caught_o,
    ):
        for _ in client.chat.completions.create(
            model="mid-overloaded-too", messages=MESSAGES, stream=True
        ):
            _release(upstream, "mid-overloaded-too")
    assert caught_o.value.type == "overloaded_error" and caught_o.value.code == "overloaded"
    assert "Overloaded" in caught_o.value.message


def test_an_overload_before_the_first_byte_is_a_529_and_benches_without_opening_the_breaker(
    gateway: Proc, upstream: RawUpstream
) -> None:
    assert gateway.log_path is not None
    claude = anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0, timeout=15)
    with claude, pytest.raises(anthropic.APIStatusError) as caught:
        with claude.messages.stream(
            model="early-overloaded", max_tokens=5, messages=CLAUDE_MESSAGES
        ) as stream:
            for _ in stream:
                pass
    assert caught.value.status_code == 529
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert int(caught.value.response.headers["retry-after"]) >= 1
    record = wait_for_record(gateway.log_path, caught.value.response.headers["x-request-id"])
    assert record["status"] == 529 and record["error_type"] == "overloaded"
    # Benched, not broken: the OpenAI route answers at once with the same overload, as 503.
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client,
        pytest.raises(openai.InternalServerError) as caught_o,
    ):
        client.chat.completions.create(model="early-overloaded", messages=MESSAGES, stream=True)
    assert caught_o.value.status_code == 503 and caught_o.value.code == "overloaded"
    assert upstream.calls["early-overloaded"] == 1


def test_anthropics_rate_limit_headers_reach_both_clients_in_their_names(gateway: Proc) -> None:
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:
        raw = claude.messages.with_raw_response.create(
            model="limits", max_tokens=5, messages=CLAUDE_MESSAGES
        )
    for name, value in RATE_LIMITS.items():
        assert raw.headers[name] == value
    assert raw.headers["x-upstream-request-id"] == "req_ok"
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        raw_o = client.chat.completions.with_raw_response.create(model="limits", messages=MESSAGES)
    assert raw_o.parse().choices[0].message.content == "Hello"
    assert {k: v for k, v in raw_o.headers.items() if "ratelimit" in k} == {
        "x-ratelimit-limit-requests": "4000",
        "x-ratelimit-remaining-requests": "3999",
        "x-ratelimit-limit-tokens": "480000",
        "x-ratelimit-remaining-tokens": "479000",
    }


def test_anthropics_rate_limit_is_a_429_with_its_wait_and_headers(gateway: Proc) -> None:
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client,
        pytest.raises(openai.RateLimitError) as caught,
    ):
        client.chat.completions.create(model="limited", messages=MESSAGES)
    headers = caught.value.response.headers
    assert caught.value.code == "rate_limit_exceeded" and caught.value.type == "rate_limit_error"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert 6 <= int(headers["retry-after"]) <= 7
    assert headers["x-upstream-request-id"] == "req_limited"
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude,
        pytest.raises(anthropic.RateLimitError) as caught_a,
    ):
        claude.messages.create(model="limited-too", max_tokens=5, messages=CLAUDE_MESSAGES)
    assert caught_a.value.body == LIMITED
    assert caught_a.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


def test_should_retry_false_reaches_the_client_which_obeys_it(
    gateway: Proc, upstream: RawUpstream
) -> None:
    """The gateway asks that deployment once (a 500 is otherwise retried on it), and the
    Anthropic SDK, told the same, does not retry either (it retries a 5xx twice by default)."""
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=2) as claude:
        with pytest.raises(anthropic.InternalServerError) as caught:
            claude.messages.create(model="no-retry", max_tokens=5, messages=CLAUDE_MESSAGES)
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert upstream.calls["no-retry"] == 1
