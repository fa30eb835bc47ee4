"""What goes wrong in translation: the exceptions the translators raise, and error bodies.

`TranslationError` says a request cannot be expressed in the other wire format;
`StreamTranslationError` carries an error an upstream reported mid-stream. The error-body
functions reshape an upstream's error answer for a client of the other format; both directions
share one status -> error type table.
"""

from __future__ import annotations

from gateway.json_types import JSON

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


class TranslationError(ValueError):
    """The request cannot be expressed in the other wire format; the message says why, and
    `param` names the field at fault when one does (the 400's `param`)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class StreamTranslationError(Exception):
    """The upstream stream reported an error mid-way; `str(exc)` is the upstream's message."""

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


def stream_error(data: JSON) -> StreamTranslationError:
    """The exception for an upstream stream event or chunk whose `error` field is set.

    Reads both shapes: an object with `message` and `type`, or a bare string.
    """
    error = data.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type")
        return StreamTranslationError(
            str(message) if message else "upstream stream error",
            str(kind) if kind else None,
        )
    return StreamTranslationError(str(error) if error else "upstream stream error")


def _error_type(status: int) -> str:
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def _error_message(body: object, fallback: str) -> str:
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
