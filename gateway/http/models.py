"""`GET /v1/models` and `GET /v1/models/{id}`: the public model names a key may use, in the
OpenAI model object shape.

A model the key may not use answers exactly as an unknown one (404 `model_not_found`), as
OpenAI does, so a key cannot probe which names exist.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from gateway.errors import GatewayError, MethodNotAllowed, NotFound
from gateway.http.endpoint import new_request_id, request_headers
from gateway.http.responses import send_error, send_json
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.finish import finish_request
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate
from gateway.runtime import Runtime

_ENDPOINT = Endpoint("/v1/models", "chat", "openai")


def model_object(name: str, runtime: Runtime) -> dict[str, Any]:
    """OpenAI's model object; `created` is when the config file last changed."""
    source = runtime.config.source
    created = int(source.stat().st_mtime) if source is not None and source.exists() else 0
    return {"id": name, "object": "model", "created": created, "owned_by": "llm-gateway"}


class ModelsEndpoint:
    """`GET /v1/models` (the list) and `GET /v1/models/{model_id}` (one model)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = self.services.runtime
        ctx = RequestContext(
            endpoint=_ENDPOINT,
            runtime=runtime,
            request_id=new_request_id(),
            ts=time.time(),
            started=time.monotonic(),
            headers=request_headers(scope),
        )
        try:
            if scope["method"] not in ("GET", "HEAD"):
                raise MethodNotAllowed(f"{scope['method']} is not allowed on {scope['path']}")
            await authenticate(ctx, self.services)
            assert ctx.key is not None
            wanted = scope.get("path_params", {}).get("model_id")
            if wanted is None:
                data = [
                    model_object(name, runtime)
                    for name in runtime.config.models
                    if ctx.key.allows(name)
                ]
                await send_json(ctx, send, orjson.dumps({"object": "list", "data": data}))
                return
            ctx.model_name = wanted
            if wanted not in runtime.config.models or not ctx.key.allows(wanted):
                raise NotFound(
                    f"The model '{wanted}' does not exist or you do not have access to it.",
                    param="model",
                    code="model_not_found",
                )
            await send_json(ctx, send, orjson.dumps(model_object(wanted, runtime)))
        except GatewayError as error:
            await send_error(ctx, send, error)
        finally:
            finish_request(ctx, self.services)
