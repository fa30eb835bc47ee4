"""Typed gateway errors and their wire bodies, in one place.

    GatewayError(status, type, code)
    ├── InvalidRequest      400  invalid_request_error
    │   └── ContextLengthExceeded  context_length_exceeded (no deployment takes the prompt)
    ├── ContentBlocked      400  content_policy_violation (a guardrail said block)
    ├── AuthenticationError 401  invalid_request_error  (missing / unknown key, as OpenAI says)
    ├── PermissionDenied    403  permission_error       (key not allowed that model)
    ├── NotFound            404  not_found_error        (unknown model or route)
    ├── MethodNotAllowed    405
    ├── RequestTimeout      408  request_timeout        (headers or body too slow)
    ├── Conflict            409  conflict               (the request contradicts stored state)
    ├── PayloadTooLarge     413  request_too_large
    ├── HeadersTooLarge     431  headers_too_large
    ├── RateLimited         429  rate_limit_exceeded / budget_exceeded (our own limits)
    ├── ServiceUnavailable  503  state_unavailable (Redis down with fail_closed)
    ├── UpstreamFailed      502  upstream_error         (every attempt failed)
    │   └── UpstreamStreamError  an error the upstream reported mid-stream, its type kept
    ├── UpstreamTimeout     504  timeout_error
    └── UpstreamRejected    the upstream's own error answer, passed on (status, type, code,
                            param, message); 5xx but 503/504/529 become 502; 529 is 503 on
                            OpenAI routes

Each has an OpenAI body (`/v1/chat/*`, `/v1/embeddings`) and an Anthropic body (`/v1/messages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import orjson

from gateway.quoted_text import MESSAGE_MAX_CHARS, capped

WireFormat = Literal["openai", "anthropic"]
# How Anthropic's API begins the message of a prompt past the context window.
_PROMPT_TOO_LONG = "prompt is too long"

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    431: "invalid_request_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
    529: "overloaded_error",
}


def upstream_failed(status: int) -> bool:
    """Does an upstream answer of `status` say the upstream failed (not the request)? Every
    5xx, and TGI's 424 Failed Dependency, its answer when generation fails in a model shard
    ("Request failed during generation: ..."; its bad requests are 422)."""
    return status >= 500 or status == 424


class GatewayError(Exception):
    status: int = 500
    type: str = "api_error"
    code: str | None = None
    # An upstream's own Anthropic error type, kept for `/v1/messages` (else named by status).
    _anthropic_type: str | None = None
    # Raised by a stream converter part-way through a chunk: the client bytes it made of the
    # events before the failure, which the client is sent before the error event.
    pending: Sequence[bytes] = ()

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        # Bounded whatever it quotes (`gateway.quoted_text`).
        message = capped(message, MESSAGE_MAX_CHARS)
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

    def status_on(self, wire: WireFormat) -> int:
        """The HTTP status a client of `wire` gets: an upstream's 529 (Anthropic's overloaded)
        is 503 on OpenAI routes, which know no 529."""
        if self.status == 529 and wire == "openai":
            return 503
        return self.status

    def with_headers(self, headers: dict[str, str]) -> GatewayError:
        """A copy of this error with `headers` added to its response headers (one error kept
        for many requests, e.g. the rate limit of a benched deployment, is never changed)."""
        copy = Exception.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.args = self.args
        copy.headers = {**self.headers, **headers}
        return copy

    def anthropic_type(self) -> str:
        """The error `type` of the Anthropic body: by status, a 4xx Anthropic has no name for
        (an upstream's 422) `invalid_request_error`, a 5xx `api_error`; an upstream's own
        Anthropic type as it was."""
        if self._anthropic_type:
            return self._anthropic_type
        kind = _ANTHROPIC_TYPES.get(self.status)
        if kind is None:
            return "invalid_request_error" if self.status < 500 else "api_error"
        return kind

    def anthropic_message(self) -> str:
        """The message of the Anthropic body. A context overflow that is not Anthropic's own
        words starts as Anthropic's does, "prompt is too long": the Anthropic body has no
        `code`, and clients know an overflow by those words (Claude Code compacts the
        conversation on them, LiteLLM raises its ContextWindowExceededError)."""
        if (
            self.code == "context_length_exceeded"
            and self._anthropic_type is None
            and _PROMPT_TOO_LONG not in self.message.lower()
        ):
            return f"{_PROMPT_TOO_LONG}: {self.message}"
        return self.message

    def body(self, wire: WireFormat) -> bytes:
        if wire == "anthropic":
            error = {"type": self.anthropic_type(), "message": self.anthropic_message()}
            return orjson.dumps({"type": "error", "error": error})
        return orjson.dumps({"error": self.openai_error()})

    def openai_error(self) -> dict[str, object]:
        """The `error` object of the OpenAI body."""
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class ContextLengthExceeded(InvalidRequest):
    """The gateway's own refusal of a prompt no deployment's context window takes, in the
    words OpenAI and Anthropic refuse one with, which clients match: "This model's maximum
    context length is N tokens. However, your messages resulted in M tokens. ..." (holding
    "prompt is too long" too, which LangChain's ChatOpenAI looks for) and "prompt is too long:
    M tokens > N maximum"."""

    code = "context_length_exceeded"

    def __init__(self, prompt_tokens: int, window: int, model: str) -> None:
        super().__init__(
            f"This model's maximum context length is {window} tokens. However, your messages "
            f"resulted in {prompt_tokens} tokens (as this gateway counts them): the prompt is "
            f"too long for every deployment of '{model}'. Please reduce the length of the "
            "messages.",
            param="messages",
        )
        self.anthropic_words = f"{_PROMPT_TOO_LONG}: {prompt_tokens} tokens > {window} maximum"

    def anthropic_message(self) -> str:
        return self.anthropic_words


class AuthenticationError(GatewayError):
    status = 401
    type = "invalid_request_error"  # as OpenAI types a wrong key; Anthropic: by status
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


class RequestTimeout(GatewayError):
    """The client took longer than `[server] header_timeout_s` / `body_timeout_s`."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class HeadersTooLarge(GatewayError):
    """Request line and headers past `[server] max_header_bytes` or `max_headers`."""

    status = 431
    type = "invalid_request_error"
    code = "headers_too_large"


class RateLimited(GatewayError):
    """A limit or budget of the gateway's own refused the request."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        budget: bool = False,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code, headers=headers)
        if budget:
            self.type = "insufficient_quota"
            self.code = "budget_exceeded"


class ServiceUnavailable(GatewayError):
    """503: a dependency of the gateway's own (the state backend) cannot serve now; it answers
    `Retry-After: 1` unless told otherwise (the SDKs retry a 503, and wait as long as it says)."""

    status = 503
    type = "api_error"
    code = "state_unavailable"

    def __init__(
        self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, code=code, headers=headers or {"retry-after": "1"})


class UpstreamFailed(GatewayError):
    status = 502
    type = "api_error"
    code = "upstream_error"


class UpstreamStreamError(UpstreamFailed):
    """An error the upstream reported inside its stream (Anthropic's `error` event, an error
    chunk of an OpenAI-compatible server), after its 200: the stream's last event says it in
    the client's shape with the upstream's type, so Anthropic's `overloaded_error` stays that
    on `/v1/messages` and is `type: "overloaded_error"`, `code: "overloaded"` on OpenAI routes,
    as the same error answered with a status is (`UpstreamRejected`). `rate_limited`: the
    upstream said it is overloaded or rate-limited, which says nothing of its health; when that
    came before the stream's first byte, the client gets the status such an answer has (529,
    503 on OpenAI routes, for an overload; 429 for a rate limit), else the gateway's 502."""

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        anthropic_type: str | None = None,
        code: str | None = None,
        rate_limited: bool = False,
        rejection: UpstreamRejected | None = None,
    ) -> None:
        super().__init__(message, code=code)
        if error_type:
            self.type = error_type
        self._anthropic_type = anthropic_type
        self.rate_limited = rate_limited
        # The 4xx the upstream named (`"code": 400`): the request's fault, answered as that
        # status before the stream's first byte.
        self.rejection = rejection
        if rate_limited:
            overloaded = "overloaded" in (anthropic_type or self.code or "")
            self.status = 529 if overloaded else 429

    @property
    def upstream_fault(self) -> bool:
        """Does the error say the upstream is broken (not busy, not refusing the request)?"""
        return not self.rate_limited and self.rejection is None


class UpstreamTimeout(GatewayError):
    status = 504
    type = "api_error"
    code = "upstream_timeout"


class UpstreamRejected(GatewayError):
    """The upstream's own error answer, passed on: its status, `type`, `code`, `param` and
    message (and Azure's `innererror`), in the client's shape
    (`gateway.providers.upstream_errors` reads either shape).

    A 5xx (and TGI's 424, `upstream_failed`) is the gateway's 502 (the upstream failed), but
    503, 504 and Anthropic's 529
    (overloaded) keep their status, since they tell the client to come back later; 529 is 503 on
    OpenAI routes, which know no 529. A 401/403 says the provider refused the gateway's own
    credentials, not the client's: the status stays, the code says `upstream_auth_error`.
    """

    type = "invalid_request_error"

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str | None = None,
        anthropic_type: str | None = None,
        upstream_body: object = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        inner_error: dict[str, object] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code, headers=headers)
        self.upstream_status = status
        # The wait the body asked for (Google's `RetryInfo`), for upstreams that send no
        # Retry-After header.
        self.retry_after_s = retry_after_s
        # Azure's `innererror` (which content filter refused, and how severe): in the OpenAI
        # body, where Azure puts it and its clients read it.
        self.inner_error = inner_error
        failed = upstream_failed(status)
        self.status = 502 if failed and status not in (503, 504, 529) else status
        if error_type:
            self.type = error_type
        elif status == 429:
            self.type = "rate_limit_error"
        elif failed:
            self.type = "api_error"
        if status == 429 and self.code in (None, "429"):
            # Azure's 429 says `"code": "429"`: no code an OpenAI client knows.
            self.code = "rate_limit_exceeded"
        elif status in (401, 403):
            # The provider refused our credentials: not the client's fault, say so plainly.
            self.type = "api_error"
            self.code = "upstream_auth_error"
        elif failed and self.code is None:
            self.code = "upstream_error"
        self._anthropic_type = anthropic_type
        self.upstream_body = upstream_body

    def openai_error(self) -> dict[str, object]:
        error = super().openai_error()
        if self.inner_error is not None:
            error["innererror"] = self.inner_error
        return error


def unexpected(exc: BaseException) -> GatewayError:
    """Wrap a bug as a clean 500 body; the traceback goes to the server log, never the client."""
    error = GatewayError("internal gateway error; see the gateway log")
    error.code = "internal_error"
    error.__cause__ = exc
    return error
