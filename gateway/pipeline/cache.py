"""The cache stage (lookup before routing) and the store after a successful answer.

`Cache-Control: no-cache` skips the lookup (the answer is still stored), `no-store` skips the
store. A hit costs nothing: no deployment, no attempts, `cost_usd` 0, `cache: "hit"`.
Cache trouble (Redis down) never fails a request: it is a bypass, counted.
"""

from __future__ import annotations

import logging
from typing import Any

from gateway.cache.entries import decode_entry, encode_entry, entry_as_json, entry_as_stream
from gateway.cache.failed_answers import failed_answer
from gateway.cache.keys import IGNORED_FIELDS, RESPONSES_IGNORED_FIELDS, cache_key
from gateway.config.types import KeyConfig
from gateway.pipeline.context import RequestContext
from gateway.pipeline.record import request_usage
from gateway.pipeline.semantic_cache import index_and_share, semantic_lookup, semantic_use
from gateway.pipeline.services import Services
from gateway.providers import Usage
from gateway.providers.base import client_wants_usage
from gateway.state import StateUnavailable

log = logging.getLogger("gateway.cache")


def _usage_dict(usage: Usage | None) -> dict[str, int]:
    if usage is None:
        return {}
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


async def cache_lookup(ctx: RequestContext, services: Services) -> None:
    """Serve an identical earlier answer when the policy caches and the client allows it."""
    assert ctx.key is not None and ctx.body is not None
    policy = ctx.runtime.config.policies.get(ctx.key.policy)
    if policy is None or policy.cache.mode == "off" or not ctx.endpoint.cacheable:
        return
    endpoint = ctx.endpoint.path
    ignored = IGNORED_FIELDS
    if ctx.endpoint.kind == "responses":
        if not stateless_response(ctx.body):
            return
        # A Responses stream entry is replayed as such, never converted to or from JSON.
        endpoint += "#stream" if ctx.stream else ""
        ignored = RESPONSES_IGNORED_FIELDS
    elif ctx.endpoint.kind == "chat" and ctx.body.get("store") is True:
        # OpenAI keeps the completion (distillation, evals) under its id with the request's
        # `metadata`: a hit would keep nothing and hand an earlier request's id out again.
        return
    control = ctx.headers.get("cache-control", "").lower()
    namespace = _namespace(ctx.key) if policy.cache.per_team else None
    keyed = _keyed_body(ctx)
    ctx.cache_key = cache_key(endpoint, keyed, namespace, ignored)
    ctx.cache_store = "no-store" not in control
    if "no-cache" in control:
        return
    try:
        raw = await services.state.get(ctx.cache_key, services.clock.time())
    except StateUnavailable as exc:
        services.metrics.state_error(exc.kind)
        return
    entry = decode_entry(raw) if raw is not None else None
    if entry is None:
        ctx.cache = "miss"
        if policy.cache.mode != "semantic":
            return
        use = semantic_use(ctx, policy.cache, keyed, endpoint, namespace)
        if use is None:
            return
        ctx.semantic = use
        found = await semantic_lookup(ctx, services, policy.cache, use)
        entry = decode_entry(found[0]) if found is not None else None
        if found is None or entry is None or not _serve(ctx, entry, found[1].key):
            return
        use.similarity = found[1].similarity
        return
    _serve(ctx, entry, ctx.cache_key)


def _serve(ctx: RequestContext, entry: dict[str, Any], key: str) -> bool:
    """Answer `ctx` from `entry` (stored under `key`), in the form asked for: a hit; or a miss
    when the entry does not convert."""
    assert ctx.body is not None
    wire = ctx.endpoint.wire
    try:
        if ctx.stream:
            wants_usage = client_wants_usage(ctx.body)
            ctx.cached_stream = entry_as_stream(entry, wire, wants_usage, ctx.endpoint.kind)
        else:
            ctx.response_body = entry_as_json(entry, wire, ctx.endpoint.kind)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        # Shaped like an entry, but its contents do not convert (damaged, or written by
        # another version of the gateway): a miss, and the fresh answer replaces it.
        log.warning("cache entry %s cannot be served, treated as a miss: %r", key, exc)
        ctx.cached_stream = ctx.response_body = None
        ctx.cache = "miss"
        return False
    ctx.cache = "hit"
    usage = entry.get("usage") or {}
    ctx.usage = Usage(
        usage.get("prompt_tokens", 0),
        usage.get("completion_tokens", 0),
        reported=not entry.get("usage_estimated"),
    )
    return True


def _keyed_body(ctx: RequestContext) -> dict[str, Any]:
    """The body the key hashes, with what else decides the stored answer (most requests have
    none of it, and hash their body as it is):
    - The output guardrails of the key's policy: the answer stored is the one they let through
      (redacted, or scanned at all), and a hit is not scanned again. Policies share answers only
      when they guard them alike (`Runtime.answer_guards`; none for most policies).
    - A `restore` guardrail has put placeholders in `ctx.body`, and the stored answer has the
      values back: the values join the key, so two requests that differ only in them
      (`<EMAIL_ADDRESS_1>` for each) never share an answer.
    - The `anthropic-beta` header, passed to Anthropic with the body: a beta (longer outputs,
      interleaved thinking, a larger context) changes the answer as a body field would."""
    assert ctx.body is not None and ctx.key is not None
    extra: dict[str, object] = {}
    guards = ctx.runtime.answer_guards.get(ctx.key.policy)
    if guards is not None:
        extra[ANSWER_GUARDS] = guards
    placeholders = ctx.placeholders
    if placeholders is not None and placeholders.by_placeholder:
        extra[RESTORED_VALUES] = sorted(placeholders.by_placeholder.items())
    beta = ctx.headers.get("anthropic-beta")
    if beta is not None:
        extra[ANTHROPIC_BETA] = beta
    return {**ctx.body, **extra} if extra else ctx.body


# Fields no request has, in the key only (see `_keyed_body`).
RESTORED_VALUES = "\x00restored"
ANSWER_GUARDS = "\x00answer_guards"
ANTHROPIC_BETA = "\x00anthropic-beta"


def _namespace(key: KeyConfig) -> str:
    """Whose entries a `per_team` policy shares: the key's team's, or the key's own when it has
    no team (not every team-less key's, nor the entries of `per_team = false` policies). A team
    keeps its bare name, as before; a key's is `key:<id>` (config-controlled: a team given
    that very name would share with the key)."""
    return key.team if key.team else f"key:{key.id}"


def stateless_response(body: dict[str, Any]) -> bool:
    """A Responses request the cache may answer: `store` false (a stored response has an id
    the client may build on; a cached one would repeat it), and no `previous_response_id` nor
    `conversation` (the upstream puts the conversation so far ahead of the `input`: the same
    body means another request each turn)."""
    return (
        body.get("store") is False
        and not body.get("previous_response_id")
        and not body.get("conversation")
    )


def will_store(ctx: RequestContext) -> bool:
    """Whether the answer is to be stored if it succeeds (so a stream keeps what it sends)."""
    return ctx.cache_key is not None and ctx.cache_store and ctx.cache != "hit"


def storable(ctx: RequestContext) -> bool:
    """Whether the answer just sent is stored: `will_store`, and it succeeded in full."""
    return will_store(ctx) and ctx.status == 200 and ctx.error is None and not ctx.client_closed


async def store_answer(ctx: RequestContext, services: Services) -> None:
    """Write the answer just sent under the request's cache key (run off the request path)."""
    assert ctx.cache_key is not None and ctx.key is not None
    policy = ctx.runtime.config.policies[ctx.key.policy]
    # What the request was counted as: the upstream's usage, else the gateway's estimate (an
    # answer without usage is not free when it is served again).
    usage = request_usage(ctx)
    estimated = usage is not None and not usage.reported
    payload = (ctx.sent_chunks or []) if ctx.stream_reply is not None else ctx.response_body
    if payload is None:
        return
    if failed_answer(ctx.endpoint.kind, payload):
        log.info("a failed answer (status 200) is not stored in the cache: %s", ctx.request_id)
        return
    if isinstance(payload, list):
        wants_usage = client_wants_usage(ctx.body or {})
        entry = encode_entry("stream", payload, _usage_dict(usage), wants_usage, estimated)
    else:
        entry = encode_entry("json", payload, _usage_dict(usage), estimated=estimated)
    try:
        await services.state.set(ctx.cache_key, entry, policy.cache.ttl_s, services.clock.time())
    except StateUnavailable as exc:
        services.metrics.state_error(exc.kind)
        return
    except Exception:
        log.exception("cannot store a cache entry")
        return
    use = ctx.semantic
    if use is not None and use.vector is not None:
        await index_and_share(services, use, ctx.cache_key, policy.cache.ttl_s)
