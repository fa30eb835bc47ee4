"""Streams the upstream ends with an error event after its 200 (the mock provider's
`error-mid-stream`), through the gateway with the real SDKs: the client gets the failure its
SDK reads, and the record says what happened (status 200, the upstream's error, its attempt
failed), on each streamed endpoint, relayed and translated. Not streamed, the Responses API
answers 200 with a failed response: relayed as it is, recorded as that failure too."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.conditions import wait_until
from tests.e2e.records import read_records
from tests.procs import Proc, start_gateway, start_mock_provider

KEY = "sk-stream-error-events"
MOCK_MESSAGE = "The server had an error while processing your request. (mock error-mid-stream)"
# model name -> (provider type, Responses served); each model its own provider, so no breaker
# or bench left by one test reaches another.
MODELS = {
    "oai-responses": ("openai", True),
    "oai-responses-json": ("openai", True),
    "oai-chat": ("openai", False),
    "oai-for-messages": ("openai", False),
    "ant-messages": ("anthropic", False),
    "ant-for-chat": ("anthropic", False),
}


def config(mock_url: str, log: Path) -> str:
    parts = [f'[logging]\npath = "{log}"\n']
    for name, (kind, responses) in MODELS.items():
        base_url = f"{mock_url}/v1" if kind == "openai" else mock_url
        flag = "responses = true\n" if responses else ""
        parts.append(
            f'[[providers]]\nname = "{name}"\ntype = "{kind}"\nbase_url = "{base_url}"\n{flag}'
        )
        parts.append(
            f'[[models]]\nname = "{name}"\n[[models.deployments]]\nprovider = "{name}"\n'
            'model = "error-mid-stream"\n'
        )
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    parts.append(f'[[keys]]\nid = "k"\nkey_sha256 = "{digest}"\n')
    return "\n".join(parts)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("stream-error-events")
    # Frames 50 ms apart: the error event arrives after the first text went out, on its own.
    mock = start_mock_provider(tokens_per_s=20)
    log = root / "requests.jsonl"
    (root / "gateway.toml").write_text(config(mock.url, log))
    try:
        proc = start_gateway(root / "gateway.toml")
        proc.log_path = log
        yield proc
        proc.stop()
    finally:
        mock.stop()


def record_of(gateway: Proc, model: str, endpoint: str) -> dict[str, Any]:
    log = gateway.log_path
    assert log is not None

    def found() -> dict[str, Any] | None:
        return next(
            (
                record
                for record in read_records(log)
                if record["model"] == model and record["endpoint"] == endpoint
            ),
            None,
        )

    return wait_until(found, 5, message=f"no record of {model} on {endpoint}")


def assert_failed(record: dict[str, Any], error_type: str, message: str) -> None:
    """A stream that failed after its first byte: 200, the upstream's error, a failed attempt."""
    assert record["status"] == 200 and record["stream"] is True
    assert record["error_type"] == error_type
    assert message in record["error_message"]
    assert [attempt["error"] for attempt in record["attempts"]] == [error_type]
    assert record["ttft_ms"] is not None  # its first bytes went out


def openai_client(gateway: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0, timeout=15)


def test_a_failed_responses_stream_is_recorded_as_failed(gateway: Proc) -> None:
    with openai_client(gateway) as client:
        events = list(client.responses.create(model="oai-responses", input="hi", stream=True))
    last = events[-1]  # relayed as the upstream sent it: the SDK reads the failed response
    assert last.type == "response.failed"
    assert last.response.error is not None and last.response.error.code == "server_error"
    record = record_of(gateway, "oai-responses", "/v1/responses")
    assert_failed(record, "server_error", MOCK_MESSAGE)


def test_a_failed_responses_answer_is_recorded_as_failed(gateway: Proc) -> None:
    with openai_client(gateway) as client:
        response = client.responses.create(model="oai-responses-json", input="hi")
    # Relayed as the upstream sent it: the SDK reads the failed response, no exception.
    assert response.status == "failed" and response.output == []
    assert response.error is not None and response.error.code == "server_error"
    assert response.error.message == MOCK_MESSAGE
    record = record_of(gateway, "oai-responses-json", "/v1/responses")
    assert record["status"] == 200 and record["stream"] is False
    assert record["error_type"] == "server_error"
    assert record["error_message"] == f"upstream answer failed: {MOCK_MESSAGE}"  # no stream
    assert [attempt["error"] for attempt in record["attempts"]] == ["server_error"]


@pytest.mark.parametrize(
    ("model", "error_type", "message"),
    [("oai-chat", "upstream_error", MOCK_MESSAGE), ("ant-for-chat", "overloaded", "Overloaded")],
    ids=["relayed", "from-anthropic"],
)
def test_a_chat_stream_ending_in_an_error_is_recorded_as_failed(
    gateway: Proc, model: str, error_type: str, message: str
) -> None:
    texts: list[str] = []
    with openai_client(gateway) as client, pytest.raises(openai.APIError) as raised:
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                texts.append(chunk.choices[0].delta.content)
    assert texts and message in raised.value.message
    assert_failed(record_of(gateway, model, "/v1/chat/completions"), error_type, message)


@pytest.mark.parametrize(
    ("model", "error_type", "message"),
    [
        ("ant-messages", "overloaded", "Overloaded"),
        ("oai-for-messages", "upstream_error", MOCK_MESSAGE),
    ],
    ids=["relayed", "from-openai"],
)
def test_a_messages_stream_ending_in_an_error_is_recorded_as_failed(
    gateway: Proc, model: str, error_type: str, message: str
) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0, timeout=15)
    kinds: list[str] = []
    with client, pytest.raises(anthropic.APIError) as raised:
        with client.messages.stream(
            model=model, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            for event in stream:
                kinds.append(event.type)
    assert "content_block_delta" in kinds and message in str(raised.value)
    assert_failed(record_of(gateway, model, "/v1/messages"), error_type, message)
