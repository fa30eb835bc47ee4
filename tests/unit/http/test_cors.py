"""The CORS middleware: preflights and responses for allowed origins, nothing for others."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from gateway.http.cors import CORSMiddleware, allowed_request_headers

ORIGINS = ("https://app.example.com",)


async def plain_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def run(method: str, path: str, headers: dict[str, str], origins: tuple[str, ...]) -> Message:
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await CORSMiddleware(plain_app, lambda: origins)(scope, receive, send)
    return sent[0]


def headers_of(start: Message) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in start["headers"]}


PREFLIGHT = {
    "origin": "https://app.example.com",
    "access-control-request-method": "POST",
    "access-control-request-headers": "Authorization, X-Stainless-Lang, cookie",
}


async def test_an_allowed_preflight_is_answered_here() -> None:
    start = await run("OPTIONS", "/v1/messages", PREFLIGHT, ORIGINS)
    headers = headers_of(start)
    assert start["status"] == 204 and "x-app" not in headers
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-headers"] == "authorization, x-stainless-lang"


async def test_any_origin_with_a_star() -> None:
    start = await run("OPTIONS", "/v1/messages", {**PREFLIGHT, "origin": "http://x"}, ("*",))
    assert headers_of(start)["access-control-allow-origin"] == "*"


async def test_other_origins_and_paths_pass_through_untouched() -> None:
    for path, origin in (("/v1/messages", "https://other.example.com"), ("/admin/x", None)):
        headers = {**PREFLIGHT, "origin": origin or PREFLIGHT["origin"]}
        start = await run("OPTIONS", path, headers, ORIGINS)
        assert headers_of(start) == {"x-app": "1"}


async def test_an_allowed_response_exposes_the_gateway_headers() -> None:
    start = await run("POST", "/v1/chat/completions", {"origin": ORIGINS[0]}, ORIGINS)
    headers = headers_of(start)
    assert headers["x-app"] == "1" and headers["vary"] == "Origin"
    exposed = headers["access-control-expose-headers"].split(", ")
    assert {"x-request-id", "request-id", "retry-after", "x-ratelimit-reset-tokens"} <= set(exposed)
    # What the SDKs' retries read besides Retry-After; before, a browser hid them from the SDK.
    assert {"retry-after-ms", "x-should-retry"} <= set(exposed)


def test_requested_headers_are_filtered_by_name_and_prefix() -> None:
    requested = "OpenAI-Organization, openai-project, anthropic-beta, x-gateway-tags, x-evil"
    assert allowed_request_headers(requested) == (
        "openai-organization, openai-project, anthropic-beta, x-gateway-tags"
    )
