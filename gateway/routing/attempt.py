"""One upstream attempt: send the request to one deployment and take in its answer.

Success fills the context (a JSON body, or a stream whose first converted bytes are already in
hand, so a stream that fails before its first byte can still move to another deployment).
Failure raises `AttemptFailed`, which says whether another try may help.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from gateway.config.types import DeploymentConfig, ModelConfig, ProviderConfig
from gateway.errors import GatewayError, UpstreamFailed, UpstreamRejected, UpstreamTimeout
from gateway.pipeline.context import Attempt, RequestContext, StreamReply
from gateway.pipeline.services import Services
from gateway.providers import Adapter, PreparedCall, adapter_for, wire_provider
from gateway.upstream import UpstreamError, UpstreamRequest, UpstreamResponse
from gateway.upstream.http1 import encode_request

log = logging.getLogger("gateway")

_CONTENT_POLICY_MARKERS = (
    "content_policy",
    "content_filter",
    "content management policy",
    "safety system",
)


class AttemptFailed(Exception):
    def __init__(
        self,
        error: GatewayError,
        *,
        retryable: bool,
        retry_after_s: float | None = None,
        content_policy: bool = False,
        context_window: bool = False,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.content_policy = content_policy
        self.context_window = context_window


@dataclass(frozen=True)
class AttemptLimits:
    first_byte_s: float
    body_s: float


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds form; HTTP dates are ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def is_content_policy(error: GatewayError) -> bool:
    """Did the upstream refuse on content policy (OpenAI `content_policy_violation`, Azure filters)?"""
    if not isinstance(error, UpstreamRejected) or error.status != 400:
        return False
    text = error.message.lower()
    body = error.upstream_body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        text += (
            " "
            + str(body["error"].get("code", "")).lower()
            + " "
            + str(body["error"].get("type", "")).lower()
        )
    return any(marker in text for marker in _CONTENT_POLICY_MARKERS)


def _failure_from_upstream_error(exc: UpstreamError, deployment: DeploymentConfig) -> AttemptFailed:
    if exc.kind.endswith("timeout"):
        return AttemptFailed(
            UpstreamTimeout(f"upstream {deployment.name} timed out ({exc.kind})"), retryable=True
        )
    return AttemptFailed(
        UpstreamFailed(f"upstream {deployment.name} failed ({exc.kind}): {exc}"), retryable=True
    )


@dataclass(frozen=True)
class UpstreamCall:
    """One upstream call as `build_call` makes it: ahead of time by `draft_first_call` (the
    draft), or when the router calls the deployment."""

    deployment: DeploymentConfig
    provider: ProviderConfig
    adapter: Adapter
    # Out of repr: the headers carry the provider key.
    call: PreparedCall = field(repr=False)
    encoded: bytes | None = field(repr=False)  # the HTTP/1.1 bytes (None for the in-process mock)


def build_call(
    ctx: RequestContext, deployment: DeploymentConfig, encode: bool = False
) -> UpstreamCall:
    """The upstream call of this request to `deployment` (with its HTTP/1.1 bytes if `encode`,
    except for the in-process mock, which reads no bytes)."""
    assert ctx.body is not None
    provider = ctx.runtime.config.providers[deployment.provider]
    wire = wire_provider(provider, ctx.endpoint.kind)
    adapter = adapter_for(ctx.endpoint.kind, wire, ctx.headers.get("anthropic-beta"))
    call = adapter.prepare(ctx.body, deployment, wire, ctx.runtime.provider_key(provider.name))
    encoded = (
        encode_request("POST", call.url, call.headers, call.body)
        if encode and provider.type != "mock"
        else None
    )
    return UpstreamCall(deployment, provider, adapter, call, encoded)


def draft_first_call(ctx: RequestContext) -> None:
    """Make the call to the model's only deployment ahead (`ctx.upstream_draft`).

    Runs while Redis checks the request's limits, when this process would otherwise wait: once
    they allow it, the call leaves without being built. It only saves work, never decides
    anything: the router still picks the deployment, `call_deployment` uses the draft only if it
    picked that one, and `guard_input` drops it before it rewrites the body. A model with several
    deployments gets no draft (which one goes first depends on the router's state then).
    """
    model = ctx.model
    if model is None or ctx.body is None:
        return
    deployments = [d for d in model.deployments if d.weight > 0]
    if len(deployments) != 1:
        return
    try:
        ctx.upstream_draft = build_call(ctx, deployments[0], encode=True)
    except (GatewayError, UpstreamError):
        return  # the same error is raised where it belongs, when the call is made
    except Exception:
        log.exception("cannot draft the upstream call of request %s", ctx.request_id)


async def call_deployment(
    ctx: RequestContext,
    services: Services,
    model: ModelConfig,
    deployment: DeploymentConfig,
    limits: AttemptLimits,
) -> None:
    """Try `deployment` once; on success the context holds the answer, else AttemptFailed."""
    assert ctx.body is not None
    draft, ctx.upstream_draft = ctx.upstream_draft, None  # a retry or fallback builds its own
    if not (isinstance(draft, UpstreamCall) and draft.deployment is deployment):
        draft = build_call(ctx, deployment)
    provider, adapter, call = draft.provider, draft.adapter, draft.call
    ctx.deployment, ctx.provider, ctx.adapter = deployment, provider, adapter
    timeouts = deployment.timeouts
    request = UpstreamRequest(
        method="POST",
        url=call.url,
        headers=call.headers,
        body=call.body,
        connect_timeout_s=min(timeouts.connect_s, limits.first_byte_s),
        first_byte_timeout_s=limits.first_byte_s,
        idle_timeout_s=timeouts.idle_s,
        encoded=draft.encoded,
    )
    started = time.monotonic()
    if ctx.upstream_started is None:
        ctx.upstream_started = started
    attempt = Attempt(deployment.name, model.name, None, None, 0.0, (started - ctx.started) * 1000)
    ctx.attempts.append(attempt)
    response: UpstreamResponse | None = None
    try:
        response = await services.client_for(provider).send(request)
        attempt.status = response.status
        if response.status >= 400:
            data = await response.read()
            error = adapter.convert_error(response.status, data, deployment)
            attempt.error_kind = f"http_{response.status}"
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if response.status == 429 and retry_after is not None:
                error.headers["retry-after"] = response.headers["retry-after"]
            retryable = response.status == 429 or response.status >= 500
            raise AttemptFailed(
                error,
                retryable=retryable,
                retry_after_s=retry_after,
                content_policy=is_content_policy(error),
            )
        if ctx.stream:
            converter = adapter.stream(ctx.body)
            chunks = response.iter_chunks()
            pending: list[bytes] = []
            async for chunk in chunks:
                pending = converter.feed(chunk)
                if pending:
                    break
            else:
                pending = converter.finish()
            ctx.stream_reply = StreamReply(response, chunks, converter, pending)
            response = None  # the responder owns it now
        else:
            if response.body_complete:
                data = await response.read()  # all in already: nothing to time out
            else:
                async with asyncio.timeout(limits.body_s):
                    data = await response.read()
            ctx.response_body, ctx.usage, ctx.response_json = adapter.convert_json(data)
            ctx.upstream_finished = time.monotonic()
    except UpstreamError as exc:
        attempt.error_kind = exc.kind
        raise _failure_from_upstream_error(exc, deployment) from None
    except TimeoutError:
        attempt.error_kind = "timeout"
        raise AttemptFailed(
            UpstreamTimeout(f"upstream {deployment.name} took too long"), retryable=True
        ) from None
    except UpstreamFailed as exc:
        # Malformed answers: the deployment is misbehaving, another may not be.
        attempt.error_kind = attempt.error_kind or exc.kind
        raise AttemptFailed(exc, retryable=True) from None
    except AttemptFailed:
        raise
    except GatewayError as exc:
        attempt.error_kind = attempt.error_kind or exc.kind
        raise AttemptFailed(exc, retryable=False) from None
    finally:
        attempt.duration_ms = (time.monotonic() - started) * 1000
        if response is not None:
            await response.aclose()
