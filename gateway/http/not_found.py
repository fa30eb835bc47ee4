"""The catch-all route: a path the gateway does not serve answers 404 `unknown_route` in the
OpenAI error shape (Anthropic's under /v1/messages), with a request record.

The message says which routes the gateway does serve, so that a client of an OpenAI API the
gateway does not proxy (`client.moderations.create()`, `client.files.list()`, ...) reads why
in its SDK's NotFoundError; and it names the likely mistake when there is one: a path that
is a served one without its `/v1` (a `base_url` missing it), or the stored chat completions
API (`client.chat.completions.retrieve(id)`), which the gateway does not serve.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Receive, Scope, Send

from gateway.errors import NotFound, WireFormat
from gateway.http.arrival import arrived_traced
from gateway.http.responses import send_error
from gateway.pipeline.context import Endpoint, HttpRoute
from gateway.pipeline.finish import finish_request
from gateway.pipeline.services import Services
from gateway.quoted_text import quoted

_STORED_COMPLETIONS = "/v1/chat/completions/"
_MODELS = "/models"  # /v1/models without its /v1


def unknown_route_message(method: str, path: str, served: tuple[str, ...]) -> str:
    """What a 404 for `method path` says: the route, why when known, and what is served."""
    message = f"unknown route: {quoted(method)} {quoted(path)}"
    if "/v1" + path in served or path == _MODELS or path.startswith(_MODELS + "/"):
        message += f" (did you mean /v1{quoted(path)}? a client's base_url ends in /v1)"
    elif path.startswith(_STORED_COMPLETIONS):
        message += (
            " (the gateway does not serve stored chat completions: a completion made with"
            " `store: true` is stored by the upstream provider)"
        )
    return f"{message}; the gateway serves POST {', '.join(served)} and GET /v1/models"


class NotFoundEndpoint:
    """Any other path: a 404 in the OpenAI error shape (Anthropic shape under /v1/messages)."""

    def __init__(self, services: Services, served: Iterable[str]) -> None:
        self.services = services
        self.served = tuple(served)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        wire: WireFormat = "anthropic" if path.startswith("/v1/messages") else "openai"
        # No route matched: the span is named by the method alone (HTTP conventions).
        route = HttpRoute(str(scope.get("method")), None)
        ctx = arrived_traced(Endpoint(path[:200], "chat", wire, http=route), self.services, scope)
        try:
            message = unknown_route_message(str(scope.get("method")), path, self.served)
            await send_error(ctx, send, NotFound(message, code="unknown_route"))
        finally:
            finish_request(ctx, self.services)
