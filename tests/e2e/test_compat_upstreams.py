"""The gateway against what Azure OpenAI and self-hosted OpenAI-compatible servers really send
(`compat_upstream.py`): an Azure api-version that refuses `stream_options`, Azure's stream
shapes, answers without usage, FastAPI's `{"detail": ...}` errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.compat_upstream import (
    AZURE_429,
    AZURE_FILTERED,
    CompatUpstream,
    running_compat_upstream,
)
from tests.e2e.conftest import GATEWAY_KEY, PROVIDER_SECRET
from tests.e2e.raw_client import connect, read_response
from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_gateway

MESSAGES = [{"role": "user", "content": "tell me a long story about dragons and their gold"}]


def _config(upstream: str, log: Path) -> str:
    text = f"""
[logging]
path = "{log}"

[[providers]]
name = "azure-old"
type = "azure"
base_url = "{upstream}"
api_version = "2024-06-01"
api_key_env = "TEST_PROVIDER_KEY"
stream_usage = false

[[providers]]
name = "azure"
type = "azure"
base_url = "{upstream}"
api_version = "2024-10-21"
api_key_env = "TEST_PROVIDER_KEY"

[[providers]]
name = "self-hosted"
type = "openai"
base_url = "{upstream}/v1"
"""
    for name, provider, model, extra in (
        ("azure-old", "azure-old", "old-api", ""),
        ("az-throttled", "azure", "throttled", ""),
        ("az-filtered", "azure", "filtered", ""),
        ("az-reasoning", "azure", "o3-prod", "reasoning = true\n"),
        ("az-gpt-5.4", "azure", "gpt-5.4-prod", "reasoning = true\n"),
        ("az-gpt-5.5", "azure", "gpt-5.5-prod", "reasoning = true\n"),
        ("az-filtered-stream", "azure", "filtered-stream", ""),
        ("no-usage", "self-hosted", "no-usage", ""),
        ("detail-400", "self-hosted", "detail-400", ""),
        ("detail-422", "self-hosted", "detail-422", ""),
    ):
        text += (
            f'\n[[models]]\nname = "{name}"\n[[models.deployments]]\nprovider = "{provider}"\n'
            f'model = "{model}"\ninput_cost_per_1m = 1000.0\noutput_cost_per_1m = 1000.0\n{extra}'
        )
    return text + '\n[[keys]]\nid = "k"\nkey_env = "GW_KEY"\n'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, CompatUpstream]]:
    root = tmp_path_factory.mktemp("compat")
    with running_compat_upstream() as upstream:
        (root / "config.toml").write_text(_config(upstream.url, root / "requests.jsonl"))
        env = {"TEST_PROVIDER_KEY": PROVIDER_SECRET, "GW_KEY": GATEWAY_KEY}
        gateway = start_gateway(root / "config.toml", env=env)
        gateway.log_path = root / "requests.jsonl"
        try:
            yield gateway, upstream
        finally:
            gateway.stop()


def _post(gateway: Proc, path: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"authorization": f"Bearer {GATEWAY_KEY}"}
    return httpx.post(gateway.url + path, json=body, headers=headers, timeout=30)


def _record(gateway: Proc, answer: httpx.Response) -> dict[str, Any]:
    assert gateway.log_path is not None
    return wait_for_record(gateway.log_path, answer.headers["x-request-id"])


@pytest.mark.parametrize(
    ("path", "body", "end"),
    [
        ("/v1/chat/completions", {"messages": MESSAGES}, "data: [DONE]"),
        ("/v1/messages", {"messages": MESSAGES, "max_tokens": 50}, "event: message_stop"),
        ("/v1/responses", {"input": "tell me a story"}, "event: response.completed"),
    ],
)
def test_a_provider_without_stream_usage_is_never_sent_stream_options(
    served: tuple[Proc, CompatUpstream], path: str, body: dict[str, Any], end: str
) -> None:
    gateway, upstream = served
    before = len(upstream.received)
    # A client's own stream_options would be refused as well: it does not reach the upstream.
    extra = {"stream_options": {"include_usage": True}} if path.endswith("completions") else {}
    answer = _post(gateway, path, {"model": "azure-old", "stream": True, **body, **extra})
    assert answer.status_code == 200, answer.text
    assert end in answer.text and "Hi" in answer.text
    (received,) = upstream.received[before:]
    assert "stream_options" not in received.body and received.body["stream"] is True
    record = _record(gateway, answer)
    assert record["status"] == 200 and record["usage_estimated"] is True
    assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"messages": MESSAGES}),
        ("/v1/messages", {"messages": MESSAGES, "max_tokens": 50}),
    ],
)
def test_an_answer_without_usage_is_counted_with_tiktoken_and_priced(
    served: tuple[Proc, CompatUpstream], path: str, body: dict[str, Any]
) -> None:
    gateway, _ = served
    answer = _post(gateway, path, {"model": "no-usage", **body})
    assert answer.status_code == 200, answer.text
    record = _record(gateway, answer)
    assert record["usage_estimated"] is True
    # The prompt is a dozen tokens, the answer ("Hello there") two.
    assert record["prompt_tokens"] >= 10 and record["completion_tokens"] >= 2
    tokens = record["prompt_tokens"] + record["completion_tokens"]
    assert record["cost_usd"] == pytest.approx(tokens * 1000.0 / 1_000_000)


def test_a_fastapi_detail_error_reaches_the_client_with_its_message(
    served: tuple[Proc, CompatUpstream],
) -> None:
    gateway, _ = served
    answer = _post(gateway, "/v1/chat/completions", {"model": "detail-400", "messages": MESSAGES})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "max_tokens must be at least 1, got 0."
    answer = _post(gateway, "/v1/chat/completions", {"model": "detail-422", "messages": MESSAGES})
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == "body.messages: field required"
    body = {"model": "detail-422", "messages": MESSAGES, "max_tokens": 5}
    answer = _post(gateway, "/v1/messages", body)
    assert answer.json()["error"]["message"] == "body.messages: field required"


def test_an_azure_rate_limit_is_openais_rate_limit_with_azures_request_id(
    served: tuple[Proc, CompatUpstream],
) -> None:
    gateway, _ = served
    answer = _post(gateway, "/v1/chat/completions", {"model": "az-throttled", "messages": MESSAGES})
    assert answer.status_code == 429
    error = answer.json()["error"]
    # Azure's "429" names no code: the client gets OpenAI's, as from any other rate limit.
    assert (error["code"], error["type"]) == ("rate_limit_exceeded", "rate_limit_error")
    assert error["message"] == AZURE_429["error"]["message"]
    assert answer.headers["retry-after-ms"] == "1500"
    # Azure names an error answer only by its apim-request-id (its support asks for it).
    assert answer.headers["x-upstream-request-id"] == "3d37de60-f6c3-4ced-a637-92bc9d16d8b5"
    record = _record(gateway, answer)
    assert record["upstream_request_id"] == "3d37de60-f6c3-4ced-a637-92bc9d16d8b5"


def test_an_azure_content_filter_refusal_keeps_which_filter_refused(
    served: tuple[Proc, CompatUpstream],
) -> None:
    gateway, _ = served
    answer = _post(gateway, "/v1/chat/completions", {"model": "az-filtered", "messages": MESSAGES})
    assert answer.status_code == 400
    error = answer.json()["error"]
    sent = AZURE_FILTERED["error"]
    assert (error["code"], error["param"]) == ("content_filter", "prompt")
    assert error["innererror"] == sent["innererror"]
    assert answer.headers["x-upstream-request-id"] == "apim-filtered"


@pytest.mark.parametrize(
    ("path", "body", "limit"),
    [
        ("/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 50}, 50),
        ("/v1/messages", {"messages": MESSAGES, "max_tokens": 60}, 60),
        ("/v1/responses", {"input": "tell me a story", "max_output_tokens": 70}, 70),
    ],
)
def test_a_reasoning_deployment_is_sent_max_completion_tokens_which_azure_takes(
    served: tuple[Proc, CompatUpstream], path: str, body: dict[str, Any], limit: int
) -> None:
    gateway, upstream = served
    before = len(upstream.received)
    answer = _post(gateway, path, {"model": "az-reasoning", **body})
    assert answer.status_code == 200, answer.text
    (received,) = upstream.received[before:]
    assert received.path == "/openai/deployments/o3-prod/chat/completions"
    assert "max_tokens" not in received.body
    assert received.body["max_completion_tokens"] == limit


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"messages": MESSAGES, "temperature": 0.2, "top_p": 0.9}),
        (
            "/v1/messages",
            {"messages": MESSAGES, "max_tokens": 50, "temperature": 0.3, "stop_sequences": ["X"]},
        ),
        ("/v1/responses", {"input": "tell me a story", "temperature": 0.4}),
    ],
)
def test_a_request_written_for_another_model_is_answered_by_a_reasoning_deployment(
    served: tuple[Proc, CompatUpstream], path: str, body: dict[str, Any]
) -> None:
    """Its sampling settings, which the reasoning model refuses (its 400 reached the client,
    a fallback to such a deployment failed), are left out."""
    gateway, upstream = served
    before = len(upstream.received)
    answer = _post(gateway, path, {"model": "az-reasoning", **body})
    assert answer.status_code == 200, answer.text
    (received,) = upstream.received[before:]
    assert not {"temperature", "top_p", "stop"} & set(received.body)


def test_the_openai_sdks_sampling_settings_reach_a_reasoning_deployment_left_out(
    served: tuple[Proc, CompatUpstream],
) -> None:
    gateway, upstream = served
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as c:
        answer = c.chat.completions.create(
            model="az-reasoning",
            messages=[{"role": "user", "content": "hi"}],
            temperature=0,
            presence_penalty=0.5,
            frequency_penalty=0.5,
            logit_bias={"50256": -100},
            stop=["\nObservation:"],
        )
    assert answer.choices[0].message.content == "Hello there"
    sent = upstream.received[-1].body
    refused = {"temperature", "presence_penalty", "frequency_penalty", "logit_bias", "stop"}
    assert not refused & set(sent)


def test_the_openai_sdks_max_tokens_reaches_an_azure_reasoning_deployment(
    served: tuple[Proc, CompatUpstream],
) -> None:
    gateway, upstream = served
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as client:
        answer = client.chat.completions.create(
            model="az-reasoning", messages=[{"role": "user", "content": "hi"}], max_tokens=40
        )
        assert answer.choices[0].message.content == "Hello there"
        assert upstream.received[-1].body["max_completion_tokens"] == 40


@pytest.mark.parametrize(
    ("path", "body", "ending"),
    [
        ("/v1/chat/completions", {"messages": MESSAGES}, '"finish_reason": "content_filter"'),
        ("/v1/messages", {"messages": MESSAGES, "max_tokens": 50}, '"stop_reason":"refusal"'),
        ("/v1/responses", {"input": "tell me a story"}, '"reason":"content_filter"'),
    ],
)
def test_an_azure_stream_cut_by_its_content_filter_ends_as_a_refusal_in_each_format(
    served: tuple[Proc, CompatUpstream], path: str, body: dict[str, Any], ending: str
) -> None:
    """Chunks with an empty `choices` (the prompt filter's) or a choice without a `delta` (the
    asynchronous filter's annotations, one after the finish) are no malformed stream."""
    gateway, _ = served
    answer = _post(gateway, path, {"model": "az-filtered-stream", "stream": True, **body})
    assert answer.status_code == 200, answer.text
    assert "Hi" in answer.text and ending in answer.text
    assert "error" not in answer.text.replace('"error":null', "")
    record = _record(gateway, answer)
    assert record["status"] == 200 and record["usage_estimated"] is False
    assert (record["prompt_tokens"], record["completion_tokens"]) == (3, 1)


def test_hop_by_hop_and_forwarding_headers_never_reach_the_upstream(
    served: tuple[Proc, CompatUpstream],
) -> None:
    """The upstream request is built from scratch: what a client (or a proxy in front) puts in
    `Connection` and the other hop-by-hop headers, its `Host` and `X-Forwarded-*`, stays at the
    gateway (docs/operations.md, HTTP framing)."""
    gateway, upstream = served
    body = json.dumps({"model": "no-usage", "messages": MESSAGES}).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: evil.example\r\n"
        f"authorization: Bearer {GATEWAY_KEY}\r\ncontent-type: application/json\r\n"
        "connection: keep-alive, x-hop\r\nx-hop: 1\r\nkeep-alive: timeout=5\r\nte: trailers\r\n"
        "proxy-authorization: Basic c2VjcmV0\r\nx-forwarded-for: 10.0.0.1\r\n"
        "x-forwarded-host: evil.example\r\nforwarded: for=10.0.0.1\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    before = len(upstream.received)
    with connect(gateway) as sock:
        sock.sendall(head.encode() + body)
        status, _, _ = read_response(sock)
    assert status == 200
    (received,) = upstream.received[before:]
    sent = set(received.headers)
    hop = {"x-hop", "keep-alive", "te", "proxy-authorization", "upgrade", "forwarded"}
    assert not sent & hop
    assert not {name for name in sent if name.startswith("x-forwarded-")}
    assert received.headers.get("connection", "keep-alive") == "keep-alive"
    assert received.headers["host"] == upstream.url.removeprefix("http://")


def test_the_anthropic_sdks_effort_reaches_a_reasoning_deployment_as_its_effort(
    served: tuple[Proc, CompatUpstream],
) -> None:
    """Claude Code's effort setting (`output_config.effort`) to an o-series deployment."""
    gateway, upstream = served
    with anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0) as c:
        message = c.messages.create(
            model="az-reasoning",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            output_config={"effort": "max"},
        )
    assert message.content and message.stop_reason == "end_turn"
    assert upstream.received[-1].body["reasoning_effort"] == "high"


@pytest.mark.parametrize(
    ("model", "effort", "kept"),
    [
        ("az-gpt-5.4", None, True),  # reasons at "none" unless asked: temperature taken
        ("az-gpt-5.4", "low", False),
        ("az-gpt-5.5", None, False),  # reasons at "medium" unless asked
        ("az-gpt-5.5", "none", True),
    ],
)
def test_the_sampling_settings_reach_a_gpt_5_deployment_when_it_does_not_reason(
    served: tuple[Proc, CompatUpstream], model: str, effort: str | None, kept: bool
) -> None:
    gateway, upstream = served
    extra: dict[str, Any] = {} if effort is None else {"reasoning_effort": effort}
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as c:
        answer = c.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], temperature=0, **extra
        )
    assert answer.choices[0].message.content == "Hello there"
    assert ("temperature" in upstream.received[-1].body) is kept
