"""`GET /v1/models` and `GET /v1/models/{id}`: the public model names a key may use, in the
OpenAI model object shape, or in Anthropic's when the request carries `anthropic-version` (the
anthropic SDK's `client.models.list()` / `retrieve()`).

A model the key may not use answers exactly as an unknown one (404 `model_not_found`), as
OpenAI does, so a key cannot probe which names exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import Receive, Scope, Send

from gateway.errors import GatewayError, MethodNotAllowed, NotFound
from gateway.http.arrival import arrived_traced
from gateway.http.responses import send_error, send_json
from gateway.pipeline.context import Endpoint, HttpRoute
from gateway.pipeline.finish import finish_request
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate
from gateway.quoted_text import quoted
from gateway.runtime import Runtime

_LIST, _ONE = "/v1/models", "/v1/models/{model_id}"  # the route templates, for traces
# Anthropic's page size: `limit` defaults to 20, at most 1000.
_DEFAULT_LIMIT, _MAX_LIMIT = 20, 1000


def _created(runtime: Runtime) -> int:
    """When the config file last changed: the models' creation time."""
    source = runtime.config.source
    return int(source.stat().st_mtime) if source is not None and source.exists() else 0


def model_object(name: str, runtime: Runtime) -> dict[str, Any]:
    """OpenAI's model object; `created` is when the config file last changed."""
    return {"id": name, "object": "model", "created": _created(runtime), "owned_by": "llm-gateway"}


def anthropic_model_object(name: str, runtime: Runtime) -> dict[str, Any]:
    """Anthropic's model object (`created_at` in RFC 3339)."""
    created = datetime.fromtimestamp(_created(runtime), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "model", "id": name, "display_name": name, "created_at": created}


def anthropic_page(names: list[str], query: bytes, runtime: Runtime) -> dict[str, Any]:
    """Anthropic's list page: `limit` names after `after_id` (or before `before_id`)."""
    params = {k: v[-1] for k, v in parse_qs(query.decode("latin-1")).items()}
    limit = params.get("limit", "")
    size = min(max(int(limit), 1), _MAX_LIMIT) if limit.isdigit() else _DEFAULT_LIMIT
    after, before = params.get("after_id"), params.get("before_id")
    if before in names:
        chosen = names[: names.index(before)][-size:]
        more = names.index(before) > len(chosen)
    else:
        start = names.index(after) + 1 if after in names else 0
        chosen = names[start : start + size]
        more = start + size < len(names)
    return {
        "data": [anthropic_model_object(name, runtime) for name in chosen],
        "has_more": more,
        "first_id": chosen[0] if chosen else None,
        "last_id": chosen[-1] if chosen else None,
    }


class ModelsEndpoint:
    """`GET /v1/models` (the list) and `GET /v1/models/{model_id}` (one model)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = self.services.runtime
        wanted = scope.get("path_params", {}).get("model_id")
        route = HttpRoute(scope["method"], _LIST if wanted is None else _ONE)
        ctx = arrived_traced(Endpoint(_LIST, "chat", "openai", http=route), self.services, scope)
        anthropic = "anthropic-version" in ctx.headers
        if anthropic:  # the anthropic SDK's call: its object shapes and its error shape
            ctx.endpoint = Endpoint(_LIST, "chat", "anthropic", http=route)
        try:
            if scope["method"] not in ("GET", "HEAD"):
                raise MethodNotAllowed(
                    f"{quoted(scope['method'])} is not allowed on {quoted(scope['path'])}; use GET",
                    headers={"allow": "GET, HEAD"},
                )
            await authenticate(ctx, self.services)
            assert ctx.key is not None
            if wanted is None:
                names = [name for name in runtime.config.models if ctx.key.allows(name)]
                if anthropic:
                    page = anthropic_page(names, scope.get("query_string", b""), runtime)
                    await send_json(ctx, send, orjson.dumps(page))
                    return
                data = [model_object(name, runtime) for name in names]
                await send_json(ctx, send, orjson.dumps({"object": "list", "data": data}))
                return
            ctx.model_name = wanted
            if wanted not in runtime.config.models or not ctx.key.allows(wanted):
                raise NotFound(
                    f"The model '{quoted(wanted)}' does not exist or you do not have access to it.",
                    param="model",
                    code="model_not_found",
                )
            found = (anthropic_model_object if anthropic else model_object)(wanted, runtime)
            await send_json(ctx, send, orjson.dumps(found))
        except GatewayError as error:
            await send_error(ctx, send, error)
        finally:
            finish_request(ctx, self.services)
