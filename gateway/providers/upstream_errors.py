"""An upstream's error answer as the client's error: the one place upstream error text enters.

Reads the OpenAI shape `{"error": {"message", "type", "param", "code"}}` (also the top-level
`{"message", "type", "code"}` of some OpenAI-compatible servers, `{"error": "text"}`,
FastAPI's `{"detail": ...}`, and Google's `[{"error": {"code", "message", "status",
"details"}}]`, which Gemini's OpenAI-compatible API answers: its `status` is the code, and
its `RetryInfo` detail the wait a 429 asks for) and the Anthropic shape `{"type": "error",
"error": {"type", "message"}}`, and keeps what the client's SDK reads: status, type, code,
param, message. The error renders itself in the client's shape (`GatewayError.body`), so an
Anthropic `overloaded_error` reaches an OpenAI client as `type: "overloaded_error", code:
"overloaded"` (Anthropic's "prompt is too long" 400 as OpenAI's `code:
"context_length_exceeded"`, `param: "messages"`, and so the context overflows of vLLM,
llama.cpp and TGI), and an OpenAI `code` stays in the OpenAI body (the Anthropic shape has no
code).
"""

from __future__ import annotations

import orjson

from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError, UpstreamRejected, UpstreamStreamError, upstream_failed
from gateway.quoted_text import MESSAGE_MAX_CHARS, QUOTE_MAX_CHARS, capped

# What an OpenAI client branches on, for each Anthropic error type whose meaning OpenAI names
# differently; any other Anthropic type is its own code.
_OPENAI_CODES = {
    "rate_limit_error": "rate_limit_exceeded",
    "overloaded_error": "overloaded",
}


# A prompt the model cannot take, as each server words it: Anthropic ("prompt is too long:
# 208310 tokens > 200000 maximum", "input length and `max_tokens` exceed context limit: 188240 +
# 21333 > 200000, ..."), OpenAI and vLLM ("This model's maximum context length is 4096 tokens.
# ..."; vLLM's engine: "The decoder prompt (length 5000) is longer than the maximum model length
# of 4096. ..."), llama.cpp ("request (4476 tokens) exceeds the available context size (4096
# tokens), try increasing it"), TGI's 422 ("Input validation error: `inputs` tokens +
# `max_new_tokens` must be <= 4096. ..."). An OpenAI client knows them all as
# `context_length_exceeded` on `messages`, and `context_window_fallbacks` follow that code.
_CONTEXT_MARKERS = (
    "prompt is too long",
    "exceed context limit",
    "maximum context length",
    "longer than the maximum model length",
    "exceeds the available context size",
    "exceeds context size",
    "`inputs` tokens + `max_new_tokens` must be",
    "`inputs` must have less than",
)
# llama.cpp names its context overflow by type (its wording moves between builds).
_CONTEXT_TYPES = ("exceed_context_size_error",)
# The statuses servers refuse a too-long prompt with (TGI's validation errors are 422).
_CONTEXT_STATUSES = (400, 413, 422)


def _is_context_overflow(status: int, message: str | None, kind: str | None) -> bool:
    if status not in _CONTEXT_STATUSES:
        return False
    if kind in _CONTEXT_TYPES:
        return True
    lowered = message.lower() if message is not None else ""
    return any(marker in lowered for marker in _CONTEXT_MARKERS)


def _text(value: object) -> str | None:
    """A field as text: strings as they are, numbers (vLLM's `"code": 400`) spelled out (a code
    that only repeats the answer's status is then dropped, `_rejected`)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


# What of an upstream's error text the client, the record, traces and the log get: a hostile or
# broken upstream may send megabytes, each of which would be scrubbed on the event loop and
# written to every log line about it (`gateway.quoted_text`).
FIELD_MAX_CHARS = QUOTE_MAX_CHARS  # type, code, param: names, not prose


def _capped(text: str | None, limit: int) -> str | None:
    return None if text is None else capped(text, limit)


def _fields(parsed: object) -> dict[str, str | None]:
    """message, type, code, param and the Anthropic type of an error body, when present, each
    capped (`MESSAGE_MAX_CHARS`, `FIELD_MAX_CHARS`)."""
    return {
        name: _capped(value, MESSAGE_MAX_CHARS if name == "message" else FIELD_MAX_CHARS)
        for name, value in _uncapped_fields(parsed).items()
    }


def _unlisted(parsed: object) -> object:
    """Google's APIs put the error object in a list (`[{"error": {...}}]`): the object."""
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        return parsed[0]
    return parsed


def _uncapped_fields(parsed: object) -> dict[str, str | None]:
    if not isinstance(parsed, dict):
        return {}
    error = parsed.get("error")
    if isinstance(error, str):
        return {"message": error or None}
    if parsed.get("type") == "error" and isinstance(error, dict):
        kind = _text(error.get("type"))
        message = _text(error.get("message"))
        return {
            "message": message,
            "type": kind,
            "code": _OPENAI_CODES.get(kind, kind) if kind else None,
            "anthropic_type": kind,
        }
    if error is None and "message" not in parsed and "detail" in parsed:
        return {"message": _detail_text(parsed["detail"])}
    detail = error if isinstance(error, dict) else parsed
    google_status = detail.get("status")  # Google's name for the error ("INVALID_ARGUMENT")
    return {
        "message": _text(detail.get("message")),
        "type": _text(detail.get("type")),
        "code": _text(detail.get("code")),
        "param": _text(detail.get("param")),
        "google_status": google_status if isinstance(google_status, str) else None,
    }


def _detail_text(detail: object) -> str | None:
    """FastAPI's `{"detail": ...}` (servers built on it, for the errors their framework
    answers): a string, or a validation error's list of `{"loc", "msg"}`."""
    if not isinstance(detail, list):
        return _text(detail)
    parts = []
    for item in detail:
        if isinstance(item, dict) and _text(item.get("msg")):
            loc = item.get("loc")
            where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
            parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
    return "; ".join(parts) or None


def _context_code(status: int, fields: dict[str, str | None]) -> None:
    """Name a context overflow `context_length_exceeded` on `messages` in `fields`, unless the
    upstream gave it a code of its own (a code that only repeats the status, as vLLM's and
    llama.cpp's `"code": 400`, is none)."""
    code = fields.get("code")
    if code is not None and not code.isdigit() and code != fields.get("anthropic_type"):
        return
    if _is_context_overflow(status, fields.get("message"), fields.get("type")):
        fields["code"] = "context_length_exceeded"
        fields["param"] = fields.get("param") or "messages"


def error_from_upstream(status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
    """The client's error for an upstream non-2xx answer of `status` with body `data`."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = None
    return _rejected(status, parsed, deployment.name)


def _rejected(status: int, parsed: object, name: str) -> UpstreamRejected:
    parsed = _unlisted(parsed)
    fields = _fields(parsed)
    if fields.get("code") == str(status):
        # vLLM's and llama.cpp server's `"code": 400`, Azure's `"code": "429"`: the status
        # again, no name a client can branch on (OpenAI's codes are names, or null). Google's
        # `status` names it ("INVALID_ARGUMENT"), but on a 429, whose code says rate limit.
        fields["code"] = fields.get("google_status") if status != 429 else None
    _context_code(status, fields)
    message = fields.get("message")
    if message is None:
        message = f"upstream {name} answered status {status}"
    elif upstream_failed(status) and status not in (503, 504, 529):
        # The client sees the gateway's 502: say whose failure it was.
        message = f"upstream {name} failed with status {status}: {message}"
    return UpstreamRejected(
        status,
        message,
        error_type=fields.get("type"),
        anthropic_type=fields.get("anthropic_type"),
        code=fields.get("code"),
        param=fields.get("param"),
        headers=_no_retry() if _QUOTA in (fields.get("code"), fields.get("type")) else None,
        upstream_body=parsed,
        inner_error=_inner_error(parsed),
        retry_after_s=_retry_delay_s(parsed),
    )


# OpenAI's 429 for an account out of credit (its `code` and `type`). No wait ends it, only a
# payment, while the OpenAI and Anthropic SDKs retry every 429 after its Retry-After (the
# router's bench, 5 s by default): `x-should-retry: false`, which both obey over the status,
# makes them raise at once.
_QUOTA = "insufficient_quota"


def _no_retry() -> dict[str, str]:
    return {"x-should-retry": "false"}


# The errors that say the upstream is busy, not broken (in either format's words).
_BUSY = ("overloaded_error", "rate_limit_error", "overloaded", "rate_limit_exceeded")


def stream_error_from_upstream(
    error: object, *, anthropic: bool, prefix: str = "upstream stream error"
) -> UpstreamStreamError:
    """The error an upstream reported mid-stream: the `error` of Anthropic's `error` event
    (`anthropic`), or of an OpenAI-compatible server's error chunk (an object, or TGI's string);
    its message is `prefix: <the upstream's message>` (a JSON answer that says it failed names
    itself so: no stream was involved).
    Its type and code are kept as `error_from_upstream` keeps them; a numeric code or none is
    `upstream_error`, except that a 4xx `code` (vLLM's and llama.cpp server's name the status
    the error would have been answered with) makes the error that 4xx: its `rejection`, the
    request's fault (llama.cpp finds a prompt over its context after the stream began)."""
    status = error.get("code") if isinstance(error, dict) and not anthropic else None
    if isinstance(status, int) and 400 <= status < 500 and status not in (401, 403, 429):
        rejection = _rejected(status, {"error": error}, "upstream")
        return UpstreamStreamError(
            f"{prefix}: {rejection.message}",
            error_type=rejection.type,
            code=rejection.code,
            rejection=rejection,
        )
    fields = _fields({"type": "error", "error": error} if anthropic else {"error": error})
    message = fields.get("message") or "unknown"
    kind, code = fields.get("type"), fields.get("code")
    if code is not None and code.isdigit():
        code = None
    busy = kind in _BUSY or code in _BUSY
    if busy and code is None:  # the code that says so (the record's error_type, the breaker)
        code = "overloaded" if kind is not None and "overloaded" in kind else "rate_limit_exceeded"
    return UpstreamStreamError(
        f"{prefix}: {message}",
        error_type=kind,
        anthropic_type=fields.get("anthropic_type"),
        code=code,
        rate_limited=busy,
    )


def error_of_event(data: bytes) -> object:
    """The error an `error` event's data holds: its `error` field, or the data itself
    (llama.cpp's `error: {"code", "message", "type"}`); text when it is not JSON."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")
    return parsed.get("error", parsed) if isinstance(parsed, dict) else parsed


# The longest wait an upstream's body may ask for (a day): a larger one is none.
_RETRY_DELAY_MAX_S = 86_400.0


def _retry_delay_s(parsed: object) -> float | None:
    """The wait Google's `RetryInfo` error detail asks for (`"retryDelay": "37s"`), if any."""
    error = parsed.get("error") if isinstance(parsed, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict) or not str(detail.get("@type")).endswith(".RetryInfo"):
            continue
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                seconds = float(delay[:-1])
            except ValueError:
                return None
            return seconds if 0 <= seconds <= _RETRY_DELAY_MAX_S else None
    return None


def _inner_error(parsed: object) -> dict[str, object] | None:
    """Azure's `error.innererror` (its content filter's verdict), when the body has one."""
    error = parsed.get("error") if isinstance(parsed, dict) else None
    inner = error.get("innererror") if isinstance(error, dict) else None
    return inner if isinstance(inner, dict) and inner else None
