"""The record of a request whose full record could not be built (`build_record` raised): the
fields that need no work, so a request never goes unrecorded (docs/request-log.md,
`record_error`)."""

from __future__ import annotations

from typing import Any

from gateway.pipeline.context import RequestContext
from gateway.pipeline.record_text import record_text


def fallback_record(ctx: RequestContext) -> dict[str, Any]:
    """The record of a request whose full record could not be built: what is sure, plus
    `record_error` (docs/request-log.md)."""
    key = ctx.key
    return {
        "id": ctx.request_id,
        "ts": ctx.ts,
        "key_id": key.id if key else None,
        "team": key.team if key else None,
        "policy": key.policy if key else None,
        "model": record_text(ctx.runtime.secrets, ctx.model_name)
        if isinstance(ctx.model_name, str)
        else None,
        "endpoint": ctx.endpoint.path,
        "stream": ctx.stream,
        "status": ctx.status,
        "error_type": "client_closed"
        if ctx.client_closed
        else (ctx.runtime.secrets.scrub(ctx.error.kind) if ctx.error else None),
        "attempts": [],
        "cache": ctx.cache,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "record_error": "the full record could not be built; see the gateway log",
    }
