"""CORS for browser clients of the `/v1/` routes, from `[server] cors_origins`.

Off unless origins are configured: `GatewayApp` only calls into this module when the running
config lists some (a reload can change the list). For a request under `/v1/` from an allowed
`Origin`:

- a preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered here, 204, with the
  methods, the requested headers the gateway accepts from browsers (the SDKs' auth, version and
  telemetry headers) and a max age;
- any other request goes on to the app, and its response gains `Access-Control-Allow-Origin`,
  `Vary: Origin` and `Access-Control-Expose-Headers` (request ids, `retry-after`,
  `retry-after-ms` and `x-should-retry`, the `x-ratelimit-*` family and the gateway's own
  headers), so the SDKs can read them (their retries obey the second and third).

A request from another origin, or outside `/v1/`, passes through untouched: no CORS header at
all, which is how a browser learns that the origin is refused. No credentials mode: the SDKs
authenticate with a header, not cookies.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]

ANY_ORIGIN = "*"
# Request headers a browser may send: auth, API versions and betas, the gateway's request
# controls, tracing; plus every `openai-*`, `x-stainless-*` (the SDKs' telemetry) and
# `x-gateway-*` header.
ALLOWED_HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "x-api-key",
        "anthropic-version",
        "anthropic-beta",
        "anthropic-dangerous-direct-browser-access",
        "cache-control",
        "idempotency-key",
        "traceparent",
        "tracestate",
        "x-request-id",
    }
)
ALLOWED_PREFIXES = ("openai-", "x-stainless-", "x-gateway-")
EXPOSED_HEADERS = ", ".join(
    (
        "x-request-id",
        "request-id",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
        "x-gateway-deployment",
        "x-gateway-attempts",
        "x-gateway-cache",
        "x-gateway-overhead-ms",
        "x-upstream-request-id",
        "server-timing",
    )
)
ALLOWED_METHODS = b"GET, POST, DELETE, OPTIONS"
MAX_AGE_S = b"600"
CORS_PATH_PREFIX = "/v1/"


def header_allowed(name: str) -> bool:
    return name in ALLOWED_HEADERS or name.startswith(ALLOWED_PREFIXES)


def origin_allowed(origin: str, origins: tuple[str, ...]) -> bool:
    return ANY_ORIGIN in origins or origin in origins


def allowed_request_headers(requested: str) -> str:
    """The names of `Access-Control-Request-Headers` the gateway accepts, lower-cased."""
    names = (name.strip().lower() for name in requested.split(","))
    return ", ".join(name for name in names if name and header_allowed(name))


def response_headers(origin: str, origins: tuple[str, ...]) -> Headers:
    """The CORS headers of an ordinary response to an allowed origin."""
    allow = b"*" if ANY_ORIGIN in origins else origin.encode("latin-1")
    return [
        (b"access-control-allow-origin", allow),
        (b"vary", b"Origin"),
        (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
    ]


def preflight_headers(origin: str, origins: tuple[str, ...], requested: str) -> Headers:
    """The headers of the answer to an allowed preflight."""
    headers = [
        (b"access-control-allow-origin", b"*" if ANY_ORIGIN in origins else origin.encode()),
        (b"vary", b"Origin"),
        (b"access-control-allow-methods", ALLOWED_METHODS),
        (b"access-control-max-age", MAX_AGE_S),
        (b"content-length", b"0"),
    ]
    allowed = allowed_request_headers(requested)
    if allowed:
        headers.append((b"access-control-allow-headers", allowed.encode()))
    return headers


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class CORSMiddleware:
    """Adds CORS to `app` for the origins `origins()` returns (read per request: reloadable)."""

    def __init__(self, app: ASGIApp, origins: Callable[[], tuple[str, ...]]) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origins = self.origins()
        origin = _header(scope, b"origin") if scope["type"] == "http" else None
        if (
            origin is None
            or not scope["path"].startswith(CORS_PATH_PREFIX)
            or not origin_allowed(origin, origins)
        ):
            await self.app(scope, receive, send)
            return
        requested_method = _header(scope, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and requested_method is not None:
            requested = _header(scope, b"access-control-request-headers") or ""
            headers = preflight_headers(origin, origins, requested)
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        extra = response_headers(origin, origins)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)
