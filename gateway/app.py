"""create_app(config) -> the ASGI app. The lifespan owns the clients and the record sink."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import tokens
from gateway.config.secret_env import ENVIRONMENT
from gateway.config.state_options import redis_options
from gateway.config.types import GatewayConfig
from gateway.http.admin import AdminAPI
from gateway.http.body_budget import BodyBudget
from gateway.http.cors import CORSMiddleware
from gateway.http.endpoint import ProxyEndpoint
from gateway.http.methods import get_only
from gateway.http.models import ModelsEndpoint
from gateway.http.not_found import NotFoundEndpoint
from gateway.http.refusing import COUNT_REFUSAL_STATE
from gateway.http.stored_responses import StoredResponseEndpoint
from gateway.mock_provider.inprocess import InProcessMockUpstream
from gateway.observability.budgets import refresh_budgets
from gateway.observability.deployment_up import refresh_deployment_up
from gateway.observability.log_scrub import install_log_scrubber
from gateway.observability.metrics import Metrics, multiprocess_enabled
from gateway.observability.recorder import JsonlSink, RecordSink
from gateway.observability.redact import LogRedactor
from gateway.observability.state_size import refresh_state_size, refresh_state_size_every
from gateway.observability.trace_context import RequestTracer
from gateway.pipeline.context import Endpoint, HttpRoute
from gateway.pipeline.count_tokens import COUNT_TOKENS_STAGES, INPUT_TOKENS_STAGES
from gateway.pipeline.services import Services
from gateway.pipeline.stages import stages_for
from gateway.providers.responses.input_tokens import INPUT_TOKENS_OPERATION
from gateway.reload import Reloader
from gateway.runtime import build_runtime
from gateway.state import create_state
from gateway.upstream.transports import NetworkClients
from gateway.worker_start import load_worker_config

log = logging.getLogger("gateway")
CONFIG_ENV = "GATEWAY_CONFIG"

ENDPOINTS = (
    Endpoint("/v1/chat/completions", "chat", "openai"),
    Endpoint("/v1/messages", "messages", "anthropic"),
    Endpoint("/v1/embeddings", "embeddings", "openai"),
    Endpoint("/v1/responses", "responses", "openai"),
    Endpoint("/v1/completions", "completions", "openai"),
)
# A Responses request's compaction: its input read as a Responses request's (validation,
# guardrails, limits, the record), served by upstreams with the Responses API only, never cached.
RESPONSES_COMPACT = Endpoint(
    "/v1/responses/compact", "responses", "openai", cacheable=False, operation="responses/compact"
)
# Counting generates nothing (no GenAI operation): traced as the HTTP request it is.
COUNT_TOKENS = Endpoint(
    "/v1/messages/count_tokens",
    "count_tokens",
    "anthropic",
    cacheable=False,
    http=HttpRoute("POST", "/v1/messages/count_tokens"),
)
RESPONSES_INPUT_TOKENS = Endpoint(
    "/v1/responses/input_tokens",
    "responses",
    "openai",
    cacheable=False,
    operation=INPUT_TOKENS_OPERATION,
    http=HttpRoute("POST", "/v1/responses/input_tokens"),
)


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


# Net allocations between two collections of the youngest generation (Python's default: 700).
YOUNG_GC_THRESHOLD = 10_000


def _warm_up(services: Services, redact: LogRedactor | None) -> None:
    """Load the tokenizer (and the log's PII detector, when the log is redacted: the tag
    labels of /metrics use it on the event loop) off the request path, then report ready.

    What is loaded by then (modules, config, tokenizer, guardrail patterns: most of the heap,
    and none of it garbage) is then moved out of the cyclic collector's sight (`gc.freeze`).
    Otherwise every full collection walks it again, one every few thousand requests, each a
    pause of tens of milliseconds on the request path (docs/performance.md).

    The youngest generation is then collected every YOUNG_GC_THRESHOLD net allocations instead
    of 700. With 64 requests in flight their objects come and go by the thousand, so at 700
    a young collection ran every ~20 requests and walked the objects of all those in flight:
    11 us of CPU per request, 7 % of the gateway's (measured in a served gateway at c = 64).
    A request leaves no garbage cycles (tests/unit/pipeline/test_no_garbage_cycles.py; an error
    kept past its `except` drops its traceback: `tracebacks.forget_tracebacks`), so collecting
    less often holds no more memory than a few thousand objects' worth."""
    try:
        tokens.count_text("warm up")
        if redact is not None:
            redact.text("warm up")
        gc.freeze()
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
    finally:
        services.ready = True


def _record_sink(config: GatewayConfig, metrics: Metrics, redact: LogRedactor | None) -> JsonlSink:
    logging_config = config.logging
    return JsonlSink(
        Path(logging_config.path),
        logging_config.max_bytes,
        logging_config.backups,
        transform=redact,
        handoff_delay_s=logging_config.record_batch_ms / 1000,
        on_record_error=metrics.record_errors.inc,
    )


def _tracer(
    config: GatewayConfig, metrics: Metrics, redact: LogRedactor | None
) -> RequestTracer | None:
    """The OTLP tracer when `[tracing]` names an endpoint. OpenTelemetry is the optional `otel`
    extra: imported here, only then, so a gateway without tracing never loads it."""
    if config.tracing.endpoint is None:
        return None
    try:
        from gateway.observability.tracing import OtlpTracer
    except ImportError as exc:
        raise RuntimeError(
            f"[tracing] needs the otel extra: pip install 'llm-gateway[otel]' ({exc})"
        ) from None
    # Captured text is redacted as the records are, when they are (`[logging]`).
    return OtlpTracer(config.tracing, metrics, redact=redact.value if redact else None)


async def _warn_about_state(services: Services) -> None:
    """Say once, at start, what in the state backend's setup makes limits wrong (Redis: an
    eviction policy that may drop their keys)."""
    for warning in await services.state.warnings():
        log.warning("state: %s", warning)


async def _reload_quietly(reloader: Reloader, trigger: str) -> None:
    await reloader.reload(trigger)


def create_app(
    config: GatewayConfig, *, recorder: RecordSink | None = None, watch_config: bool = True
) -> GatewayApp:
    # One redaction for the records, the tag labels of /metrics and captured trace text.
    redact = LogRedactor() if config.logging.redact_pii_in_logs else None
    process_metrics = Metrics(redact_tag=redact.text if redact else None)
    services = Services(
        runtime=build_runtime(config),
        network=NetworkClients(),
        mock=InProcessMockUpstream(),
        recorder=recorder or _record_sink(config, process_metrics, redact),
        state=create_state(config.state.backend, redis_options(config.state, ENVIRONMENT)),
        tracer=_tracer(config, process_metrics, redact),
        metrics=process_metrics,
    )
    # Log lines never carry a provider key, whichever config is current.
    install_log_scrubber(lambda: services.runtime.secrets)

    for provider in config.providers.values():
        if provider.type != "mock":
            services.network.client(provider)  # each transport imported (and logged) at start

    for model in config.models.values():
        for deployment in model.deployments:
            services.metrics.deployment_up.labels(deployment.name).set(1)

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def metrics(request: Request) -> Response:
        services.records.write_pending()  # count every request that has ended
        refresh_state_size(services.state, services.metrics.state_gauges)
        current, now = services.runtime.config, time.time()
        await refresh_deployment_up(services.state, current, services.metrics, now)
        await refresh_budgets(services.state, current, services.metrics, now)
        return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def readyz(request: Request) -> Response:
        if not services.ready:
            return _json({"status": "starting"}, 503)
        return _json({"status": "ready", "config_version": services.runtime.config.version})

    reloader = Reloader(
        services, config.source or Path(os.environ.get(CONFIG_ENV, "config.example.toml"))
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        threading.Thread(target=_warm_up, args=(services, redact), daemon=True).start()
        services.limiter.start()
        services.spawn(_warn_about_state(services))
        if watch_config and config.source is not None:
            reloader.start()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(
                    signal.SIGHUP, lambda: services.spawn(_reload_quietly(reloader, "SIGHUP"))
                )
        reloader.serving()  # published: a SIGHUP no longer ends it (gateway/supervisor.py)
        count_refusal = services.metrics.http_refusals
        sizes = None  # each worker's own sizes, for the scrapes the others answer
        if multiprocess_enabled():
            gauges = services.metrics.state_gauges
            sizes = asyncio.create_task(refresh_state_size_every(services.state, gauges))
        try:
            # Lifespan state reaches the HTTP protocol, which counts its refusals with this.
            yield {COUNT_REFUSAL_STATE: lambda reason: count_refusal.labels(reason).inc()}
        finally:
            if sizes is not None:
                sizes.cancel()
            await reloader.aclose()
            await services.aclose()

    bodies = BodyBudget()  # one per process, for every route
    proxies = {e.path: ProxyEndpoint(e, services, stages_for(e.kind), bodies) for e in ENDPOINTS}
    proxies[COUNT_TOKENS.path] = ProxyEndpoint(COUNT_TOKENS, services, COUNT_TOKENS_STAGES, bodies)
    counting = RESPONSES_INPUT_TOKENS
    proxies[counting.path] = ProxyEndpoint(counting, services, INPUT_TOKENS_STAGES, bodies)
    compact = RESPONSES_COMPACT
    proxies[compact.path] = ProxyEndpoint(compact, services, stages_for(compact.kind), bodies)
    models = ModelsEndpoint(services)
    routes = [Route(path, endpoint, methods=None) for path, endpoint in proxies.items()]
    routes += [
        Route("/v1/models", models, methods=None),
        Route("/v1/models/{model_id:path}", models, methods=None),
        Route("/v1/responses/{response_id}", StoredResponseEndpoint(services), methods=None),
        Route("/healthz", get_only(healthz), methods=None),
        Route("/readyz", get_only(readyz), methods=None),
        Route("/metrics", get_only(metrics), methods=None),
        *AdminAPI(services, reloader).routes(),
        Route("/{path:path}", not_found := NotFoundEndpoint(services, proxies), methods=None),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.router.default = not_found  # a target no route can match (`OPTIONS *`): the same 404
    app.state.services = services
    app.state.bodies = bodies
    app.state.reloader = reloader
    return GatewayApp(app, dict(proxies), services)


class GatewayApp:
    """The proxied routes go straight to their endpoint; everything else through Starlette.

    The hot path skips Starlette's router and exception middlewares (the proxy endpoints answer
    every error themselves); lifespan, admin, health and metrics keep the framework. CORS wraps
    both only while the running config lists `cors_origins`.
    """

    def __init__(self, app: Starlette, direct: dict[str, ASGIApp], services: Services) -> None:
        self.app = app
        self.state = app.state
        self._direct = direct
        self._services = services
        self._cors = CORSMiddleware(self._dispatch, self._cors_origins)

    def _cors_origins(self) -> tuple[str, ...]:
        return self._services.runtime.config.server.cors_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._services.runtime.config.server.cors_origins:
                await self._cors(scope, receive, send)
                return
            endpoint = self._direct.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._direct.get(scope["path"])
        await (endpoint or self.app)(scope, receive, send)


def create_app_from_env() -> GatewayApp:
    """Factory for uvicorn (`--workers N` re-imports the app in each worker process)."""
    path = os.environ.get(CONFIG_ENV, "config.example.toml")
    return create_app(load_worker_config(Path(path)))
