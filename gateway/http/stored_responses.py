"""`GET` and `DELETE /v1/responses/{id}`: a response the gateway remembers, from its deployment.

A response made by a deployment that speaks Responses is asked of that deployment (the same
provider, key and client as the request that made it) and its answer relayed through the key's
output guardrails (as the answer was when it was made); a
`DELETE` that succeeds there is forgotten here too. A translated deployment's response is
answered from what the gateway remembers of it (`gateway.pipeline.conversations`). An id the
gateway does not know for this key is a 404, in the OpenAI error shape like every failure here.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import orjson
from starlette.types import Receive, Scope, Send

from gateway.errors import (
    GatewayError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    UpstreamFailed,
)
from gateway.guardrails.base import Placeholders
from gateway.http.answer_scrub import scrubbed_answer
from gateway.http.arrival import arrived_traced
from gateway.http.responses import gateway_headers, send_error, send_json
from gateway.observability.trace_context import upstream_trace
from gateway.pipeline.context import Endpoint, HttpRoute, RequestContext
from gateway.pipeline.conversations import (
    KEY_PREFIX,
    find_deployment,
    not_found,
    recall,
    translated,
)
from gateway.pipeline.finish import finish_request
from gateway.pipeline.guard import guard_output
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate
from gateway.providers import wire_provider
from gateway.providers.azure import openai_wire_for
from gateway.providers.base import malformed
from gateway.quoted_text import quoted
from gateway.routing.exchange import Attempt
from gateway.state import StateUnavailable
from gateway.upstream import UpstreamError, UpstreamRequest, UpstreamTimeouts

_PATH = "/v1/responses/{id}"  # as the record says it
_ROUTE = "/v1/responses/{response_id}"  # as the trace names it (the route's own template)
_TIMEOUTS = UpstreamTimeouts(connect_s=5.0, first_byte_s=30.0, idle_s=30.0)


class StoredResponseEndpoint:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        endpoint = Endpoint(_PATH, "responses", "openai", http=HttpRoute(method, _ROUTE))
        ctx = arrived_traced(endpoint, self.services, scope)
        try:
            if method not in ("GET", "DELETE"):
                raise MethodNotAllowed(
                    f"{quoted(method)} is not allowed here; use GET or DELETE",
                    headers={"allow": "GET, DELETE"},
                )
            await authenticate(ctx, self.services)
            await self._answer(ctx, method, str(scope["path_params"]["response_id"]), send)
        except GatewayError as error:
            await send_error(ctx, send, error)
        finally:
            finish_request(ctx, self.services)

    async def _guarded(self, ctx: RequestContext, entry: dict[str, Any], body: bytes) -> bytes:
        """A response fetched again goes through the key's output guardrails as it did when it
        was first answered: redacted, blocked, or its `restore` placeholders put back (the map
        remembered with it)."""
        assert ctx.key is not None
        seeded = entry.get("placeholders")
        if ctx.key.policy not in ctx.runtime.guardrails and not isinstance(seeded, dict):
            return body
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise malformed("its stored response is not JSON") from None
        if not isinstance(data, dict):
            raise malformed("its stored response is not an object")
        ctx.response_json, ctx.response_body = data, body
        if isinstance(seeded, dict):
            ctx.placeholders = Placeholders.seeded(seeded)
        await guard_output(ctx, self.services)
        return ctx.response_body

    async def _forget(self, response_id: str) -> None:
        try:
            await self.services.state.forget(KEY_PREFIX + response_id)
        except StateUnavailable as exc:
            self.services.metrics.state_error(exc.kind)
            raise ServiceUnavailable(
                f"cannot forget the response: the state backend is down ({exc.kind})"
            ) from None

    async def _answer(self, ctx: RequestContext, method: str, response_id: str, send: Send) -> None:
        services = self.services
        assert ctx.key is not None
        entry = await recall(services, ctx.key, response_id)
        if entry is None:
            raise not_found(response_id)
        found = find_deployment(ctx.runtime, str(entry.get("deployment")))
        stored = entry.get("response")
        if isinstance(stored, dict):
            if method == "GET":
                await send_json(ctx, send, orjson.dumps(stored))
                return
            await self._forget(response_id)
            deleted = {"id": response_id, "object": "response", "deleted": True}
            await send_json(ctx, send, orjson.dumps(deleted))
            return
        if entry.get("too_long") and found is not None and translated(ctx.runtime, found[1]):
            raise NotFound(
                f"the response '{quoted(response_id)}' was too large for this gateway to keep "
                "([state] responses_max_bytes)",
                code="response_not_found",
            )
        if found is None:
            raise NotFound(
                f"the deployment that made the response '{quoted(response_id)}' "
                "is no longer configured",
                code="response_deployment_gone",
            )
        model_name, deployment = found
        ctx.model_name = model_name
        ctx.exchange.deployment = deployment
        provider = ctx.runtime.config.providers[deployment.provider]
        ctx.exchange.provider = provider
        wire = wire_provider(provider, "responses")
        # Where and how the request that made it was sent: the provider's `query` and `headers`
        # too (an `OpenAI-Project` header, a proxy's own): without them OpenAI looks in another
        # project, a proxy refuses. The id is one the gateway remembers; quoted all the same.
        openai_wire = openai_wire_for(wire)  # Azure's URL and key header, or OpenAI's
        url = openai_wire.url(wire, deployment, f"responses/{quote(response_id, safe='')}")
        headers = openai_wire.headers(ctx.runtime.provider_key(provider.name))
        extra = ctx.runtime.provider_headers.get(provider.name)
        if extra is not None:
            headers = {**headers, **extra}
        trace = upstream_trace(ctx.trace, ctx.headers)
        span_id = None if trace is None else trace.new_span_id(services.rng)
        if trace is not None:
            headers = {**headers, **trace.headers(span_id)}
        request = UpstreamRequest(method, url, headers, b"")
        began = time.monotonic()
        attempt = Attempt(
            deployment.name, model_name, None, None, 0.0, (began - ctx.started) * 1000, span_id
        )
        ctx.exchange.attempts.append(attempt)
        try:
            upstream = await services.client_for(provider).send(request, _TIMEOUTS)
            attempt.status = upstream.status
            try:
                body = await upstream.read()
            finally:
                await upstream.aclose()
        except UpstreamError as exc:
            attempt.error_kind = exc.kind
            raise UpstreamFailed(
                f"upstream {deployment.name} failed ({exc.kind}): {quoted(exc)}"
            ) from None
        finally:
            attempt.duration_ms = (time.monotonic() - began) * 1000
        if upstream.status >= 400:
            attempt.error_kind = f"http_{upstream.status}"
        if method == "DELETE" and upstream.status < 300:
            await self._forget(response_id)
        if method == "GET" and upstream.status < 300:
            body = await self._guarded(ctx, entry, body)
        # A response that failed when it was made (`"status": "failed"`) fetched again is a
        # fetch that succeeded: no error of its own (the request that made it was recorded as
        # that failure, `send_json`), and its deployment's breaker hears nothing of it.
        ctx.status = upstream.status
        # An upstream's error text may quote the credentials it was sent (scrubbed as all error
        # text is: the configured secrets and credential shapes); an answer, the key it was
        # fetched with (the configured secrets only).
        if upstream.status >= 400:
            body = ctx.runtime.secrets.scrub_bytes(body)
        else:
            body = scrubbed_answer(ctx, body)
        head = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *gateway_headers(ctx),
        ]
        await send({"type": "http.response.start", "status": upstream.status, "headers": head})
        await send({"type": "http.response.body", "body": body})
