"""The mock provider's error answers, as the real providers send them: bodies and headers.

`error_answer` renders one error in a wire format (OpenAI `{"error": {...}}`, Anthropic
`{"type": "error", "error": {...}}`); `fault_error` is the answer of each error fault model
(`fail-500`, `fail-429`, `fail-quota`, `fail-529`, `fail-400-context`), with the messages,
status codes and rate-limit headers OpenAI and Anthropic use for them; `stream_error_event`
the event that ends an `error-mid-stream` stream, `failed_response` its Responses answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from gateway.mock_provider import render
from gateway.sse import encode_event

Headers = tuple[tuple[str, str], ...]

# OpenAI error `type` for each Anthropic-style kind used here.
_OPENAI_ERROR_TYPES = {
    "not_found_error": "invalid_request_error",
    "rate_limit_error": "requests",
    "server_error": "server_error",
}
_ANTHROPIC_ERROR_TYPES = {"server_error": "api_error"}
# What a rate-limited answer says of the limits, in each provider's own headers.
_RATE_LIMIT_HEADERS = {
    "openai": (
        ("x-ratelimit-limit-requests", "60"),
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "1s"),
        ("x-ratelimit-limit-tokens", "150000"),
        ("x-ratelimit-remaining-tokens", "149984"),
        ("x-ratelimit-reset-tokens", "6ms"),
    ),
    "anthropic": (
        ("anthropic-ratelimit-requests-limit", "60"),
        ("anthropic-ratelimit-requests-remaining", "0"),
    ),
}
ERROR_FAULTS = frozenset({"fail-500", "fail-429", "fail-quota", "fail-529", "fail-400-context"})


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    status: int
    payload: bytes
    headers: Headers = ()


def error_answer(
    wire: str,
    status: int,
    message: str,
    kind: str,
    code: str | None = None,
    *,
    param: str | None = None,
    headers: Headers = (),
) -> ErrorAnswer:
    """An error in `wire`'s shape; `kind` is the Anthropic-style type, mapped for OpenAI."""
    if wire == "anthropic":
        body = render.anthropic_error(_ANTHROPIC_ERROR_TYPES.get(kind, kind), message)
    else:
        body = render.openai_error(message, _OPENAI_ERROR_TYPES.get(kind, kind), code, param)
    return ErrorAnswer(status, orjson.dumps(body), headers)


def fault_error(model: str, wire: str) -> ErrorAnswer:
    """The answer of the error fault model `model` (one of ERROR_FAULTS)."""
    if model == "fail-500":
        message = "The server had an error while processing your request (mock fail-500)."
        return error_answer(wire, 500, message, "server_error")
    if model == "fail-429":
        message = (
            "Rate limit reached for fail-429 in organization org-mock on requests per min "
            "(RPM): Limit 60, Used 60, Requested 1. Please try again in 1s. (mock fail-429)"
        )
        headers = (("retry-after", "1"), *_RATE_LIMIT_HEADERS[wire])
        return error_answer(
            wire, 429, message, "rate_limit_error", "rate_limit_exceeded", headers=headers
        )
    if model == "fail-quota":
        if wire == "anthropic":  # Anthropic says so with a 400 about credits
            message = "Your credit balance is too low to access the Anthropic API. (mock)"
            return error_answer(wire, 400, message, "invalid_request_error")
        message = (
            "You exceeded your current quota, please check your plan and billing details. "
            "(mock fail-quota)"
        )
        return error_answer(wire, 429, message, "insufficient_quota", "insufficient_quota")
    if model == "fail-529":
        if wire == "openai":  # OpenAI knows no 529: its overload is a 503
            message = "The engine is currently overloaded, please try again later. (mock)"
            return error_answer(wire, 503, message, "server_error")
        return error_answer(wire, 529, "Overloaded", "overloaded_error")
    assert model == "fail-400-context", model
    message = (
        "This model's maximum context length is 128000 tokens. However, your messages "
        "resulted in 130412 tokens. Please reduce the length of the messages. (mock)"
    )
    return error_answer(
        wire,
        400,
        message,
        "invalid_request_error",
        "context_length_exceeded",
        param="messages",
    )


STREAM_ERROR_MESSAGE = (
    "The server had an error while processing your request. (mock error-mid-stream)"
)


def stream_error_event(wire: str, response_id: str, model: str | None) -> bytes:
    """The event an `error-mid-stream` stream ends with, as each API sends it after its 200:
    OpenAI's chat `data: {"error": ...}` chunk, Anthropic's `event: error` (overloaded), the
    Responses API's `response.failed` (`response_id`: the response's id, as in its events)."""
    if wire == "anthropic":
        error = render.anthropic_error("overloaded_error", "Overloaded")
        return encode_event(orjson.dumps(error), "error")
    if wire == "openai":
        error = render.openai_error(STREAM_ERROR_MESSAGE, "server_error", None, None)
        return encode_event(orjson.dumps(error))
    response = failed_response(response_id, model)
    event = {"type": "response.failed", "sequence_number": 99, "response": response}
    return encode_event(orjson.dumps(event), "response.failed")


def failed_response(response_id: str, model: str | None) -> dict[str, object]:
    """A Responses API response whose generation failed (`status: "failed"`, its `error`
    `server_error`): the last event of an `error-mid-stream` stream, and its JSON answer (200)
    when not streamed, as OpenAI answers a failed generation."""
    return {
        "id": response_id,
        "object": "response",
        "model": model,
        "status": "failed",
        "error": {"code": "server_error", "message": STREAM_ERROR_MESSAGE},
        "incomplete_details": None,
        "output": [],
        "usage": None,
    }
