"""Routes that take every method: `any_method` (the handler decides) and `get_only` (a GET route
whose other methods answer 405, not the catch-all's 404).

Starlette limits a route given a function to GET; given an ASGI app, it passes every method.
Asked `POST /healthz`, Starlette finds only the path of a GET route matching and goes on to the
catch-all route (`/{path:path}`, every method), which answered it (or a CORS preflight of
`/metrics`) 404 `unknown_route` and left a request record for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import MethodNotAllowed
from gateway.quoted_text import quoted

Handler = Callable[[Request], Awaitable[Response]]


def get_only(handler: Handler) -> ASGIApp:
    """`handler` for GET and HEAD; any other method 405 `method_not_allowed` with `Allow`, in
    the OpenAI error shape, as an ASGI app (`any_method`)."""

    async def endpoint(request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return await handler(request)
        error = MethodNotAllowed(
            f"{quoted(request.method)} is not allowed on {quoted(request.url.path)}; use GET",
            headers={"allow": "GET, HEAD"},
        )
        return Response(
            error.body("openai"),
            status_code=error.status,
            headers=error.headers,
            media_type="application/json",
        )

    return any_method(endpoint)


def any_method(handler: Handler) -> ASGIApp:
    """`handler` as an ASGI app, so that a Route given it passes every method."""
    return _AnyMethod(request_response(handler))


class _AnyMethod:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
