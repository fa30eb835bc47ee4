"""The error answers of self-hosted servers (vLLM, llama.cpp server, TGI, Ollama) through the
gateway, as the real SDKs see them, against an upstream that answers with those servers' own
bodies (tests/e2e/raw_upstream.py): a prompt too long for the model is OpenAI's
`context_length_exceeded` whichever server said it, and goes to `context_window_fallbacks`."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from anthropic.types import MessageParam
from openai.types.chat import ChatCompletionMessageParam

from tests.conditions import wait_until
from tests.e2e.raw_upstream import RawUpstream, Reply
from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_gateway

KEY = "sk-selfhosted-errors-test"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
CLAUDE_MESSAGES: list[MessageParam] = [{"role": "user", "content": "hi"}]

# vLLM's OpenAI server: the error object at the top level, `code` the status as a number.
VLLM_CONTEXT = {
    "object": "error",
    "message": "This model's maximum context length is 4096 tokens. However, you requested "
    "5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of "
    "the messages or completion.",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
# llama.cpp server: its own error type, the counts beside it.
LLAMACPP_CONTEXT = {
    "error": {
        "code": 400,
        "message": "request (4476 tokens) exceeds the available context size (4096 tokens), try "
        "increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 4476,
        "n_ctx": 4096,
    }
}
# TGI: a string error and its kind, 422 for every validation error.
TGI_CONTEXT = {
    "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: "
    "4000 `inputs` tokens and 200 `max_new_tokens`",
    "error_type": "validation",
}
# TGI's other validation errors: 422, the client's mistake.
TGI_INVALID = {
    "error": "Input validation error: `temperature` must be strictly positive",
    "error_type": "validation",
}
# TGI's answer when generation fails in a model shard: 424, the server's failure.
TGI_GENERATION = {
    "error": "Request failed during generation: Server error: CUDA out of memory. Tried to "
    "allocate 2.00 GiB",
    "error_type": "generation",
}
# Ollama's OpenAI-compatible endpoint, for a model it has not pulled.
OLLAMA_MISSING = {
    "error": {
        "message": 'model "llama3.3:70b" not found, try pulling it first',
        "type": "api_error",
        "param": None,
        "code": None,
    }
}
ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "big",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hello"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
}


def _sse(*events: dict[str, object]) -> bytes:
    return b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events)


def _chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "big",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


# llama.cpp server says an error found once its stream began on an `error:` line (a field SSE
# does not know), then ends the stream as usual.
LLAMACPP_STREAM_CONTEXT = (
    b"error: " + json.dumps(LLAMACPP_CONTEXT["error"]).encode() + b"\n\ndata: [DONE]\n\n"
)
LLAMACPP_CRASH = {
    "code": 500,
    "message": "llama_decode failed: out of memory",
    "type": "server_error",
}


def _stream(body: bytes, then: bytes | None = None) -> Reply:
    held = threading.Event() if then is not None else None
    return Reply(200, body, {}, "text/event-stream", then or b"", held)


# llama.cpp server while it loads its model.
LLAMACPP_LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}

REPLIES: dict[str, Reply | None] = {
    "llamacpp-loading": Reply(503, LLAMACPP_LOADING),
    "llamacpp-stream-context": _stream(LLAMACPP_STREAM_CONTEXT),
    "llamacpp-mid-crash": _stream(
        _sse(_chunk({"role": "assistant", "content": "Once"})),
        b"error: " + json.dumps(LLAMACPP_CRASH).encode() + b"\n\ndata: [DONE]\n\n",
    ),
    "big-stream": _stream(
        _sse(_chunk({"role": "assistant", "content": "hello"}), _chunk({}, "stop"))
        + b"data: [DONE]\n\n"
    ),
    "vllm-context": Reply(400, VLLM_CONTEXT),
    "llamacpp-context": Reply(400, LLAMACPP_CONTEXT),
    "tgi-context": Reply(422, TGI_CONTEXT),
    "tgi-invalid": Reply(422, TGI_INVALID),
    "tgi-generation": Reply(424, TGI_GENERATION),
    "ollama-missing": Reply(404, OLLAMA_MISSING),
    "big": Reply(200, ANSWER),
}


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _config(upstream: RawUpstream, log: Path) -> str:
    text = (
        f'[logging]\npath = "{log}"\n\n'
        "[routing]\nmax_attempts = 1\n\n"
        f'[[providers]]\nname = "self"\ntype = "openai"\nbase_url = "{upstream.url}/v1"\n\n'
        '[[models]]\nname = "big"\n'
        '[[models.deployments]]\nprovider = "self"\nmodel = "big"\n\n'
    )
    text += (
        '[[models]]\nname = "tgi-invalid"\n'
        '[[models.deployments]]\nprovider = "self"\nmodel = "tgi-invalid"\n\n'
        '[[models]]\nname = "ollama-missing"\n'
        '[[models.deployments]]\nprovider = "self"\nmodel = "ollama-missing"\n\n'
        '[[models]]\nname = "ollama-then-big"\nfallbacks = ["big"]\n'
        '[[models.deployments]]\nprovider = "self"\nmodel = "ollama-missing"\n\n'
        '[[models]]\nname = "tgi-generation"\nfallbacks = ["big"]\n'
        '[[models.deployments]]\nprovider = "self"\nmodel = "tgi-generation"\n\n'
    )
    text += (
        '[[models]]\nname = "big-stream"\n'
        '[[models.deployments]]\nprovider = "self"\nmodel = "big-stream"\n\n'
        '[[models]]\nname = "llamacpp-stream"\n'
        '[[models.deployments]]\nprovider = "self"\nmodel = "llamacpp-stream-context"\n\n'
        '[[models]]\nname = "llamacpp-stream-then-big"\ncontext_window_fallbacks = ["big-stream"]\n'
        '[[models.deployments]]\nprovider = "self"\nmodel = "llamacpp-stream-context"\n\n'
        '[[models]]\nname = "llamacpp-mid-crash"\n'
        '[[models.deployments]]\nprovider = "self"\nmodel = "llamacpp-mid-crash"\n\n'
    )
    text += (
        '[[models]]\nname = "llamacpp-loading"\nfallbacks = ["big"]\n'
        '[[models.deployments]]\nprovider = "self"\nmodel = "llamacpp-loading"\n\n'
    )
    for server in ("vllm", "llamacpp", "tgi"):
        text += (
            f'[[models]]\nname = "{server}"\n'
            f'[[models.deployments]]\nprovider = "self"\nmodel = "{server}-context"\n\n'
            f'[[models]]\nname = "{server}-then-big"\ncontext_window_fallbacks = ["big"]\n'
            f'[[models.deployments]]\nprovider = "self"\nmodel = "{server}-context"\n\n'
        )
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{_sha(KEY)}"\n'


@pytest.fixture(scope="module")
def upstream() -> Iterator[RawUpstream]:
    server = RawUpstream(REPLIES)
    yield server
    server.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: RawUpstream) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("selfhosted-errors")
    log = root / "requests.jsonl"
    (root / "gateway.toml").write_text(_config(upstream, log))
    proc = start_gateway(root / "gateway.toml")
    proc.log_path = log
    yield proc
    proc.stop()


def _openai(gateway: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0, timeout=15)


@pytest.mark.parametrize(
    ("server", "status", "message"),
    [
        ("vllm", 400, VLLM_CONTEXT["message"]),
        ("llamacpp", 400, LLAMACPP_CONTEXT["error"]["message"]),
        ("tgi", 422, TGI_CONTEXT["error"]),
    ],
)
def test_a_prompt_too_long_for_a_self_hosted_model_is_context_length_exceeded(
    gateway: Proc, server: str, status: int, message: str
) -> None:
    with _openai(gateway) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=server, messages=MESSAGES)
    assert caught.value.status_code == status
    assert caught.value.code == "context_length_exceeded" and caught.value.param == "messages"
    assert caught.value.message == f"Error code: {status} - {message}"


@pytest.mark.parametrize("server", ["vllm", "llamacpp", "tgi"])
def test_a_prompt_too_long_for_a_self_hosted_model_goes_to_the_context_window_fallback(
    gateway: Proc, server: str
) -> None:
    assert gateway.log_path is not None
    with _openai(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=f"{server}-then-big", messages=MESSAGES
        )
    assert raw.parse().choices[0].message.content == "hello"
    assert raw.headers["x-gateway-deployment"] == "self/big"
    record = wait_for_record(gateway.log_path, raw.headers["x-request-id"])
    assert record["status"] == 200 and record["fallback_used"] is True
    assert [(a["deployment"], a["status"]) for a in record["attempts"]] == [
        (f"self/{server}-context", 422 if server == "tgi" else 400),
        ("self/big", 200),
    ]


def test_a_validation_error_of_tgi_is_the_anthropic_clients_invalid_request(
    gateway: Proc, upstream: RawUpstream
) -> None:
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as client,
        pytest.raises(anthropic.UnprocessableEntityError) as caught,
    ):
        client.messages.create(model="tgi-invalid", max_tokens=5, messages=CLAUDE_MESSAGES)
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": TGI_INVALID["error"]},
    }
    assert upstream.calls["tgi-invalid"] == 1  # the client's mistake: not tried again


def test_a_generation_failure_of_tgi_is_the_upstreams_failure_and_falls_back(
    gateway: Proc, upstream: RawUpstream
) -> None:
    assert gateway.log_path is not None
    with _openai(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="tgi-generation", messages=MESSAGES
        )
    assert raw.parse().choices[0].message.content == "hello"
    record = wait_for_record(gateway.log_path, raw.headers["x-request-id"])
    assert record["fallback_used"] is True
    assert [(a["deployment"], a["status"]) for a in record["attempts"]] == [
        ("self/tgi-generation", 424),
        ("self/big", 200),
    ]
    # The failure logged for the operator, with TGI's message.
    wait_until(
        lambda: any(
            "self/tgi-generation" in line and "CUDA out of memory" in line
            for line in gateway.output
        ),
        5,
        message="the failed attempt was never logged",
    )


def test_a_model_the_upstream_does_not_have_is_tried_elsewhere_and_told_to_the_operator(
    gateway: Proc,
) -> None:
    assert gateway.log_path is not None
    with _openai(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="ollama-then-big", messages=MESSAGES
        )
    assert raw.parse().choices[0].message.content == "hello"
    record = wait_for_record(gateway.log_path, raw.headers["x-request-id"])
    assert [(a["deployment"], a["status"]) for a in record["attempts"]] == [
        ("self/ollama-missing", 404),
        ("self/big", 200),
    ]
    wait_until(
        lambda: any("self/ollama-missing" in line and "pulling" in line for line in gateway.output),
        5,
        message="the missing model was never logged",
    )
    # With nowhere else to go, the client gets the upstream's answer.
    with _openai(gateway) as client, pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="ollama-missing", messages=MESSAGES)
    assert caught.value.body == OLLAMA_MISSING["error"]


def test_llamacpps_error_line_before_the_first_byte_is_its_refusal(gateway: Proc) -> None:
    assert gateway.log_path is not None
    with _openai(gateway) as client, pytest.raises(openai.BadRequestError) as caught:
        for _ in client.chat.completions.create(
            model="llamacpp-stream", messages=MESSAGES, stream=True
        ):
            pass
    assert caught.value.code == "context_length_exceeded" and caught.value.param == "messages"
    assert "exceeds the available context size (4096 tokens)" in caught.value.message
    # ... and the context window's fallback answers it.
    with _openai(gateway) as client:
        stream = client.chat.completions.with_raw_response.create(
            model="llamacpp-stream-then-big", messages=MESSAGES, stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream.parse() if c.choices)
    assert text == "hello"
    record = wait_for_record(gateway.log_path, stream.headers["x-request-id"])
    assert [(a["deployment"], a["error"]) for a in record["attempts"]] == [
        ("self/llamacpp-stream-context", "http_400"),
        ("self/big-stream", None),
    ]


def test_llamacpps_error_line_mid_stream_fails_the_stream(
    gateway: Proc, upstream: RawUpstream
) -> None:
    """Its stream then ends with `[DONE]` as if all went well: the client must still be told."""
    assert gateway.log_path is not None
    reply = upstream.replies["llamacpp-mid-crash"]
    assert reply is not None and reply.held is not None
    with _openai(gateway) as client, pytest.raises(openai.APIError) as caught:
        stream = client.chat.completions.with_raw_response.create(
            model="llamacpp-mid-crash", messages=MESSAGES, stream=True
        )
        for _ in stream.parse():
            reply.held.set()  # the client has the first chunk: now the error
    assert "llama_decode failed: out of memory" in caught.value.message
    record = wait_for_record(gateway.log_path, stream.headers["x-request-id"])
    assert record["error_type"] == "upstream_error"


def test_a_llamacpp_server_still_loading_its_model_is_passed_over(gateway: Proc) -> None:
    """Its 503 is a passing state, not the request's fault: the fallback answers."""
    assert gateway.log_path is not None
    with _openai(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="llamacpp-loading", messages=MESSAGES
        )
    assert raw.parse().choices[0].message.content == "hello"
    record = wait_for_record(gateway.log_path, raw.headers["x-request-id"])
    assert [(a["deployment"], a["status"]) for a in record["attempts"]] == [
        ("self/llamacpp-loading", 503),
        ("self/big", 200),
    ]
