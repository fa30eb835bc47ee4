"""Upstreams that lie and clients that hide PII, against the real gateway process.

The upstream is `hostile_upstream.py` on a raw socket: it quotes the credentials it was sent,
reports absurd usage, drops `choices`, ends streams without their end. The gateway must leak
no provider key (responses, stream events, records, log lines, metrics), write one record per
request, answer a malformed upstream with 502 `upstream_malformed` (or an error event
mid-stream), keep cache entries apart for every field that may change the answer, and find PII
written with look-alike characters, split across content parts, or buried in a long text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conditions import wait_until
from tests.e2e.hostile_upstream import HostileUpstream, running_hostile_upstream
from tests.e2e.hostile_upstream_gateway import (
    KEYS,
    chat,
    leaks,
    messages,
    record_of,
    start_gateway_before,
)
from tests.e2e.records import read_records
from tests.procs import Proc


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileUpstream]:
    with running_hostile_upstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, hostile: HostileUpstream) -> Iterator[Proc]:
    proc = start_gateway_before(tmp_path_factory.mktemp("hostile"), hostile)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(gateway: Proc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        yield http


# -- finding 1: provider keys quoted by the upstream --------------------------------------------


@pytest.mark.parametrize("model", ["key-401", "key-400", "key-500"])
def test_key_quoted_in_an_error_answer_is_scrubbed(
    gateway: Proc, client: httpx.Client, model: str
) -> None:
    response = chat(client, model)
    assert response.status_code >= 400
    assert not leaks(response.text), response.text
    assert set(response.json()["error"]) >= {"message", "type", "param", "code"}
    record = record_of(gateway, response)
    assert not leaks(json.dumps(record))


@pytest.mark.parametrize("model", ["ant-key-401", "key-401"])
def test_key_quoted_to_an_anthropic_client_is_scrubbed(
    gateway: Proc, client: httpx.Client, model: str
) -> None:
    response = messages(client, model)
    assert response.status_code >= 400
    assert response.json()["type"] == "error"
    assert not leaks(response.text), response.text


@pytest.mark.parametrize("model", ["key-headers", "ant-key-headers"])
def test_key_echoed_in_the_upstreams_headers_is_scrubbed(
    gateway: Proc, client: httpx.Client, model: str
) -> None:
    """The request id and x-ratelimit-* headers are passed on (and recorded); a 503's
    Retry-After too, as the whole seconds it names (here none: it is not a number); no other
    header of the upstream's (its `set-cookie`, `www-authenticate`, `server`)."""
    response = chat(client, model)
    assert response.status_code == 503
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    assert not leaks(headers), headers
    assert response.headers["x-upstream-request-id"] == "req-****"
    assert "retry-after" not in response.headers
    # The upstream's cookie, challenge and server name stay at the gateway.
    assert not {"set-cookie", "www-authenticate", "server"} & set(response.headers)
    assert not leaks(json.dumps(record_of(gateway, response)))


@pytest.mark.parametrize(
    ("endpoint", "model"),
    [("chat", "key-stream"), ("chat", "ant-key-stream"), ("messages", "ant-key-stream")],
)
def test_key_quoted_in_a_stream_error_event_is_scrubbed(
    gateway: Proc, client: httpx.Client, endpoint: str, model: str
) -> None:
    if endpoint == "chat":
        response = chat(client, model, stream=True)
    else:
        response = messages(client, model, stream=True)
    assert response.status_code == 200
    assert "error" in response.text.rsplit("data:", 1)[-1]  # the stream ends with an error
    assert not leaks(response.text), response.text
    record = record_of(gateway, response)
    assert record["error_type"] is not None
    assert not leaks(json.dumps(record))


# -- finding 2: untrusted usage and shapes ------------------------------------------------------


@pytest.mark.parametrize("model", ["usage-huge", "usage-negative", "usage-string", "choices-null"])
def test_malformed_answer_is_502_with_a_record(
    gateway: Proc, client: httpx.Client, model: str
) -> None:
    response = chat(client, model)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_malformed"
    record = record_of(gateway, response)
    assert record["status"] == 502
    assert record["error_type"] == "upstream_malformed"
    assert record["cost_usd"] >= 0


@pytest.mark.parametrize("model", ["stream-usage-huge", "stream-usage-negative"])
def test_malformed_usage_mid_stream_ends_with_an_error_event(
    gateway: Proc, client: httpx.Client, model: str
) -> None:
    response = chat(client, model, stream=True)
    assert response.status_code == 200
    last = response.text.strip().rsplit("\n\n", 1)[-1]
    assert json.loads(last.removeprefix("data: "))["error"]["code"] == "upstream_malformed"
    record = record_of(gateway, response)
    assert record["error_type"] == "upstream_malformed"
    assert 0 <= record["prompt_tokens"] < 2**53 and record["cost_usd"] >= 0


@pytest.mark.parametrize(
    ("endpoint", "model"),
    [("chat", "stream-no-end"), ("chat", "ant-stream-no-end"), ("messages", "ant-stream-no-end")],
)
def test_stream_without_its_end_is_a_failure(
    gateway: Proc, client: httpx.Client, endpoint: str, model: str
) -> None:
    if endpoint == "chat":
        response = chat(client, model, stream=True)
        assert "data: [DONE]" not in response.text
    else:
        response = messages(client, model, stream=True)
        assert "event: message_stop" not in response.text
    assert "error" in response.text.rsplit("\n\n", 2)[-2]  # the last event
    assert record_of(gateway, response)["error_type"] == "stream_interrupted"


@pytest.mark.parametrize(
    ("endpoint", "model"), [("chat", "stream-forever"), ("messages", "ant-stream-forever")]
)
def test_a_stream_kept_alive_past_total_timeout_ends_with_an_error_event(
    gateway: Proc, client: httpx.Client, endpoint: str, model: str
) -> None:
    """`total_timeout_s` bounds the whole attempt, a started stream included: it ends with an
    error event and a complete response (it ran to the request's deadline, then was cut)."""
    if endpoint == "chat":
        response = chat(client, model, stream=True)
    else:
        response = messages(client, model, stream=True)
    assert response.status_code == 200
    assert "error" in response.text.rsplit("\n\n", 2)[-2]  # the last event
    assert record_of(gateway, response)["error_type"] == "upstream_timeout"


def test_sdk_sees_the_cut_stream_fail(gateway: Proc) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEYS["plain"]) as sdk:
        stream = sdk.chat.completions.create(
            model="stream-no-end", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(openai.APIError, match="ended without"):
            for _ in stream:
                pass


def _requests_counted(client: httpx.Client, model: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("gateway_requests_total{") and f'model="{model}"' in line
    )


def _counted(client: httpx.Client, metric: str, *labels: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith(metric + "{") and all(label in line for label in labels)
    )


def test_hostile_usage_is_counted_in_full(gateway: Proc, client: httpx.Client) -> None:
    model = 'model="stream-usage-negative"'
    requests = _counted(client, "gateway_requests_total", model)
    completion = _counted(client, "gateway_tokens_total", model, 'kind="completion"')
    sent = [chat(client, "stream-usage-negative", stream=True) for _ in range(3)]
    for response in sent:
        record_of(gateway, response)
    # /metrics counts every request that has ended before it answers; every metric of each
    # request is updated (a negative count used to raise in the middle of the update).
    assert _counted(client, "gateway_requests_total", model) == requests + 3
    tokens = _counted(client, "gateway_tokens_total", model, 'kind="completion"')
    assert tokens >= completion + 3
    text = client.get("/metrics").text
    costs = [line for line in text.splitlines() if line.startswith("gateway_cost_usd_total{")]
    assert all(float(line.rsplit(" ", 1)[1]) >= 0 for line in costs)


# -- finding 5: the cache key is the whole body -------------------------------------------------

ANSWER_CHANGING = {
    "modalities": ["text", "audio"],
    "audio": {"voice": "alloy", "format": "wav"},
    "prediction": {"type": "content", "content": "x"},
    "service_tier": "flex",
    "verbosity": "low",
    "web_search_options": {"search_context_size": "low"},
    "guided_json": {"type": "object"},
    "min_p": 0.1,
    "chat_template_kwargs": {"enable_thinking": False},
    "x_unknown_field": 1,
}


def _cached_chat(client: httpx.Client, message: str, **extra: Any) -> httpx.Response:
    body = {"model": "counter", "messages": [{"role": "user", "content": message}], **extra}
    headers = {"authorization": f"Bearer {KEYS['cached']}"}
    return client.post("/v1/chat/completions", json=body, headers=headers)


@pytest.mark.parametrize("field", sorted(ANSWER_CHANGING))
def test_requests_differing_in_one_field_never_share_an_entry(
    client: httpx.Client, field: str
) -> None:
    message = f"cache probe {field}"
    first = _cached_chat(client, message)
    # The entry is stored off the request path: wait until the same body is served from it.
    wait_until(lambda: _cached_chat(client, message).headers["x-gateway-cache"] == "hit", 5)
    other = _cached_chat(client, message, **{field: ANSWER_CHANGING[field]})
    assert other.headers["x-gateway-cache"] == "miss"
    answer = other.json()["choices"][0]["message"]["content"]
    assert answer != first.json()["choices"][0]["message"]["content"]


def test_fields_that_do_not_change_the_answer_share_an_entry(client: httpx.Client) -> None:
    message = "cache probe ignored fields"
    _cached_chat(client, message)
    wait_until(lambda: _cached_chat(client, message).headers["x-gateway-cache"] == "hit", 5)
    same = _cached_chat(client, message, user="u-2", metadata={"a": "b"})
    assert same.headers["x-gateway-cache"] == "hit"


# -- finding 6: PII written to evade the scan ---------------------------------------------------

EVASIONS = {
    "full-width card": ("Card ４１１１ １１１１ １１１１ １１１１ please", "１１１１ １１１１"),
    "Arabic-Indic card": ("Card ٤١١١ ١١١١ ١١١١ ١١١١ please", "١١١١ ١١١١"),
    "zero-width email": ("Mail jane.roe@exa\u200bmple.org now", "roe@exa"),
    "soft-hyphen email": ("Mail jane.roe@example\u00ad.org now", "roe@example"),
    "soft-hyphen card": ("Card 4111\u00ad1111\u00ad1111\u00ad1111 please", "1111\u00ad1111"),
    "NBSP SSN": ("My SSN is 536\u00a022\u00a01234 ok", "22\u00a01234"),
    "full-width at email": ("Mail jane.roe\uff20example.org now", "example.org"),
}


def _pii_chat(client: httpx.Client, content: Any) -> httpx.Response:
    body = {"model": "plain", "messages": [{"role": "user", "content": content}]}
    headers = {"authorization": f"Bearer {KEYS['pii']}"}
    return client.post("/v1/chat/completions", json=body, headers=headers)


def _upstream_saw(hostile: HostileUpstream) -> str:
    return json.dumps(hostile.bodies[-1]["messages"], ensure_ascii=False)


@pytest.mark.parametrize("name", sorted(EVASIONS))
def test_pii_written_with_look_alike_characters_is_redacted(
    client: httpx.Client, hostile: HostileUpstream, name: str
) -> None:
    text, value = EVASIONS[name]
    response = _pii_chat(client, text)
    assert response.status_code == 200, response.text
    saw = _upstream_saw(hostile)
    assert value not in saw, saw
    assert "<" in saw  # redacted, not dropped


def test_email_split_across_content_parts_is_redacted(
    client: httpx.Client, hostile: HostileUpstream
) -> None:
    parts = [
        {"type": "text", "text": "Mail jane.roe@exa"},
        {"type": "text", "text": "mple.org now"},
    ]
    assert _pii_chat(client, parts).status_code == 200
    sent = hostile.bodies[-1]["messages"][0]["content"]
    assert len(sent) == 2  # the parts stay parts
    joined = "".join(part["text"] for part in sent)
    assert "roe@exa" not in joined and "mple.org" not in joined, sent
    assert "<EMAIL_ADDRESS>" in joined


def test_text_beyond_the_engine_limit_is_scanned_with_on_error_allow(
    client: httpx.Client, hostile: HostileUpstream
) -> None:
    text = "filler " * 150_000 + "mail jane.roe@example.org"  # 1,050,025 characters
    response = _pii_chat(client, text)
    assert response.status_code == 200, response.text
    sent = hostile.bodies[-1]["messages"][0]["content"]
    assert "jane.roe@example.org" not in sent and sent.endswith("<EMAIL_ADDRESS>")


# -- everything the gateway wrote ---------------------------------------------------------------


def test_no_provider_key_in_any_record_log_line_or_metric(
    gateway: Proc, client: httpx.Client
) -> None:
    sent = [chat(client, "key-401"), chat(client, "key-stream", stream=True)]
    sent.append(messages(client, "ant-key-stream", stream=True))
    for response in sent:
        assert not leaks(response.text)
        record_of(gateway, response)
    assert gateway.log_path is not None
    records = read_records(gateway.log_path)
    assert records and not leaks(json.dumps(records))
    assert not leaks(client.get("/metrics").text)
    assert not leaks("".join(gateway.output))


@pytest.mark.parametrize(
    ("endpoint", "model", "end"),
    [
        ("chat", "done-then-hold", b"data: [DONE]"),
        ("messages", "ant-done-then-hold", b"message_stop"),
    ],
)
def test_a_client_that_leaves_after_the_last_event_had_the_whole_answer(
    gateway: Proc, endpoint: str, model: str, end: bytes
) -> None:
    """The SDKs close the connection once they read `[DONE]` (`message_stop`), before the
    response's own end. An upstream that is slow to end its body after its last event must not
    make that a client that left (499): the client had the whole answer."""
    body: dict[str, Any] = {"model": model, "stream": True, "max_tokens": 10}
    body["messages"] = [{"role": "user", "content": "hi"}]
    path = "/v1/chat/completions" if endpoint == "chat" else "/v1/messages"
    headers = {"authorization": f"Bearer {KEYS['plain']}"}
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        with client.stream("POST", path, json=body, headers=headers) as response:
            received = b""
            for chunk in response.iter_raw():
                received += chunk
                if end in received:
                    break  # and close the connection, as the SDKs do
    record = record_of(gateway, response)
    assert (record["status"], record["error_type"]) == (200, None)
    assert record["completion_tokens"] > 0


@pytest.mark.parametrize(
    ("endpoint", "model"), [("chat", "done-then-hold"), ("messages", "ant-done-then-hold")]
)
def test_an_upstream_that_never_ends_its_body_after_the_last_event_adds_no_error(
    gateway: Proc, client: httpx.Client, endpoint: str, model: str
) -> None:
    """The answer is whole once its last event went out: an upstream that then holds its body
    open until `total_timeout_s` adds no error event after it, and the request did not fail."""
    if endpoint == "chat":
        response = chat(client, model, stream=True)
        assert response.text.rstrip().endswith("data: [DONE]")
    else:
        response = messages(client, model, stream=True)
        assert response.text.rstrip().endswith('{"type": "message_stop"}')
    assert response.status_code == 200
    assert (record_of(gateway, response)["error_type"], "error" in response.text) == (None, False)
