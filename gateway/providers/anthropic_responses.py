"""Response, usage, stop-reason and error translation between OpenAI and Anthropic, both ways.

Pure functions over parsed JSON: no I/O. The clock is read only for OpenAI's `created` field,
and callers may pass it in.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from gateway.providers.anthropic_requests import parse_arguments

JSON = dict[str, Any]

# Anthropic stop_reason -> OpenAI finish_reason.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# OpenAI finish_reason -> Anthropic stop_reason.
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
# HTTP status -> error type; the names are Anthropic's, which the gateway uses on both surfaces.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def finish_reason(stop_reason: Any) -> str:
    """The OpenAI `finish_reason` for an Anthropic `stop_reason` ("stop" when unknown)."""
    return _FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def stop_reason(finish: Any) -> str:
    """The Anthropic `stop_reason` for an OpenAI `finish_reason` ("end_turn" when unknown)."""
    return _STOP_REASONS.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"


def openai_usage(usage: Any) -> JSON:
    """Anthropic usage -> OpenAI usage.

    Anthropic's `input_tokens` excludes cache reads and writes; OpenAI's `prompt_tokens`
    includes every prompt token, so both cache counts are added back. `prompt_tokens_details`
    appears only when Anthropic reported `cache_read_input_tokens`.
    """
    usage = usage if isinstance(usage, dict) else {}
    cache_read = usage.get("cache_read_input_tokens")
    prompt = (
        int(usage.get("input_tokens") or 0)
        + int(cache_read or 0)
        + int(usage.get("cache_creation_input_tokens") or 0)
    )
    completion = int(usage.get("output_tokens") or 0)
    out: JSON = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cache_read is not None:
        out["prompt_tokens_details"] = {"cached_tokens": int(cache_read)}
    return out


def anthropic_usage(usage: Any) -> JSON:
    """OpenAI usage -> Anthropic usage.

    OpenAI's `prompt_tokens` includes cached tokens; Anthropic's `input_tokens` does not, so the
    cached ones move to `cache_read_input_tokens` (present only when OpenAI reported them).
    """
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    prompt = int(usage.get("prompt_tokens") or 0)
    out: JSON = {
        "input_tokens": max(prompt - int(cached or 0), 0),
        "output_tokens": int(usage.get("completion_tokens") or 0),
    }
    if cached is not None:
        out["cache_read_input_tokens"] = int(cached)
    return out


def anthropic_response_to_openai(resp: JSON, model: str, *, created: int | None = None) -> JSON:
    """Translate an Anthropic message into an OpenAI `chat.completion`.

    Text blocks are joined into `message.content` (None when there is none); `tool_use` blocks
    become `tool_calls` with compact JSON `arguments`; thinking blocks are dropped. The id is
    "chatcmpl-" + the Anthropic id, `model` is the argument, `created` defaults to now.
    """
    texts: list[str] = []
    calls: list[JSON] = []
    for block in resp.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
    message: JSON = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    return {
        "id": f"chatcmpl-{resp.get('id', '')}",
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(resp.get("stop_reason")),
            }
        ],
        "usage": openai_usage(resp.get("usage")),
    }


def openai_response_to_anthropic(resp: JSON, model: str) -> JSON:
    """Translate an OpenAI `chat.completion` into an Anthropic message.

    Reads the first choice: its text (or refusal) becomes a text block, each tool call a
    `tool_use` block whose `input` is the parsed arguments (`{}` when they are not a JSON object).
    The id is "msg_" + the OpenAI id; `stop_sequence` is always None, since OpenAI does not say
    which stop sequence matched. Usage follows `anthropic_usage`.
    """
    choices = resp.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content: list[JSON] = []
    text = message.get("content")
    if isinstance(text, list):  # some compatible servers return content parts
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    text = text or message.get("refusal")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": parse_arguments(function.get("arguments")),
            }
        )
    return {
        "id": f"msg_{resp.get('id', '')}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": anthropic_usage(resp.get("usage")),
    }


def _error_type(status: int) -> str:
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def _error_message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        if isinstance(body.get("message"), str) and body["message"]:
            return str(body["message"])
    return fallback


def openai_error_to_anthropic(status: int, body: JSON | None, message_fallback: str) -> JSON:
    """An OpenAI-shaped (or any) error answer as Anthropic's `{"type": "error", "error": ...}`.

    The type comes from the status (400 invalid_request_error, 401 authentication_error,
    402 billing_error, 403 permission_error, 404 not_found_error, 413 request_too_large,
    429 rate_limit_error, 504 timeout_error, 529 overloaded_error, other 5xx api_error, other
    4xx invalid_request_error); the message from the body, else `message_fallback`.
    """
    return {
        "type": "error",
        "error": {"type": _error_type(status), "message": _error_message(body, message_fallback)},
    }


def anthropic_error_to_openai(status: int, body: JSON | None, message_fallback: str) -> JSON:
    """An Anthropic-shaped (or any) error answer as OpenAI's `{"error": {...}}`.

    `type` follows the status as in `openai_error_to_anthropic`; `code` carries the upstream's
    own Anthropic error type when it sent one (e.g. "overloaded_error"); `param` is None.
    """
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("type") if isinstance(error, dict) else None
    return {
        "error": {
            "message": _error_message(body, message_fallback),
            "type": _error_type(status),
            "param": None,
            "code": code if isinstance(code, str) else None,
        }
    }
