"""Typed gateway errors and their wire bodies, in one place.

    GatewayError(status, type, code)
    ├── InvalidRequest      400  invalid_request_error
    ├── ContentBlocked      400  content_policy_violation (a guardrail said block)
    ├── AuthenticationError 401  authentication_error   (missing / unknown key)
    ├── PermissionDenied    403  permission_error       (key not allowed that model)
    ├── NotFound            404  not_found_error        (unknown model or route)
    ├── MethodNotAllowed    405
    ├── Conflict            409  conflict               (the request contradicts stored state)
    ├── PayloadTooLarge     413  request_too_large
    ├── RateLimited         429  rate_limit_exceeded / budget_exceeded (our own limits)
    ├── ServiceUnavailable  503  state_unavailable (Redis down with fail_closed)
    ├── UpstreamFailed      502  upstream_error         (every attempt failed)
    ├── UpstreamTimeout     504  timeout_error
    └── UpstreamRejected    4xx/429 from upstream, passed on with the upstream's status

Each has an OpenAI body (`/v1/chat/*`, `/v1/embeddings`) and an Anthropic body (`/v1/messages`).
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

WireFormat = Literal["openai", "anthropic"]

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
}


class GatewayError(Exception):
    status: int = 500
    type: str = "api_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = headers or {}

    @property
    def kind(self) -> str:
        """Bounded label for records and metrics."""
        return self.code or self.type

    def body(self, wire: WireFormat) -> bytes:
        if wire == "anthropic":
            kind = _ANTHROPIC_TYPES.get(self.status, "api_error")
            return orjson.dumps({"type": "error", "error": {"type": kind, "message": self.message}})
        return orjson.dumps(
            {
                "error": {
                    "message": self.message,
                    "type": self.type,
                    "param": self.param,
                    "code": self.code,
                }
            }
        )


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationError(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    code = "model_not_allowed"


class ContentBlocked(GatewayError):
    """A guardrail refused the request or the answer."""

    status = 400
    type = "invalid_request_error"
    code = "content_policy_violation"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class Conflict(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RateLimited(GatewayError):
    """A limit or budget of the gateway's own refused the request."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, budget: bool = False, **kw: Any) -> None:
        super().__init__(message, **kw)
        if budget:
            self.type = "insufficient_quota"
            self.code = "budget_exceeded"


class ServiceUnavailable(GatewayError):
    status = 503
    type = "api_error"
    code = "state_unavailable"


class UpstreamFailed(GatewayError):
    status = 502
    type = "api_error"
    code = "upstream_error"


class UpstreamTimeout(GatewayError):
    status = 504
    type = "api_error"
    code = "upstream_timeout"


class UpstreamRejected(GatewayError):
    """The upstream answered 4xx; the client gets that status with the upstream's message."""

    type = "invalid_request_error"

    def __init__(self, status: int, message: str, *, upstream_body: Any = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status = status
        if status == 429:
            self.type = "rate_limit_error"
            self.code = "rate_limit_exceeded"
        elif status in (401, 403):
            # The provider refused our credentials: not the client's fault, say so plainly.
            self.type = "api_error"
            self.code = "upstream_auth_error"
        self.upstream_body = upstream_body


def unexpected(exc: BaseException) -> GatewayError:
    """Wrap a bug as a clean 500 body; the traceback goes to the server log, never the client."""
    error = GatewayError("internal gateway error; see the gateway log")
    error.code = "internal_error"
    error.__cause__ = exc
    return error
