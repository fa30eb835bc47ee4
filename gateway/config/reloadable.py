"""Which settings a live reload applies, and which need a restart: every key of every table
(`[server]` .. `[state]`, `[admin]`, `[routing]`, `[[providers]]`, `[[models]]`, `[[keys]]`, the
policies' tables and guardrails, the top level).

A reload builds a new runtime from the new config, but some parts of a running process were
built once at start from the config of then: the listening socket and the worker processes,
the HTTP protocol's limits (they travel with the protocol class), the request log's file and
its redaction, the trace exporter and the state backend. A reload keeps the running value of
each such setting (`keep_restart_only`) and names every one that changed (`restart_only_changes`),
so what a reload reports as applied is applied. Every field of every table is in exactly one
of `APPLIED_LIVE` and `RESTART_ONLY`, nested tables by a dotted name (`providers.network`):
tests/unit/config/test_reloadable.py walks the dataclasses, a new field fails it until placed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gateway.config.state_types import StateConfig
from gateway.config.types import GatewayConfig, TracingConfig

# Read from the running config at each use (`services.runtime.config`), or applied by the
# reload itself (the record sink's rotation and batching, the audit trail).
APPLIED_LIVE: Mapping[str, tuple[str, ...]] = {
    "server": (
        "max_body_bytes",
        "request_timeout_s",
        "cors_origins",
        "max_inflight_body_bytes",
        "split_secret_watch",  # read per stream (`answer_scrub.StreamScrub`)
    ),
    "logging": (
        "include_bodies",
        "max_bytes",
        "backups",
        "audit_path",
        "audit_max_bytes",
        "audit_backups",
        "record_batch_ms",
    ),
    "metrics": ("tag_labels", "tag_values_max"),
    # Read per admin call (the key itself from the environment then).
    "admin": ("key_env",),
    # Read per attempt by the router, breakers and cooldowns (their state, in the state
    # backend, is kept: a new breaker_cooldown_s applies from the next transition).
    "routing": (
        "max_attempts",
        "backoff_base_s",
        "backoff_max_s",
        "breaker_failures",
        "breaker_window_s",
        "breaker_cooldown_s",
        "probe_timeout_s",
        "rate_limit_cooldown_s",
        "missing_model_cooldown_s",
    ),
    # Each request takes its provider from the runtime; the runtime reads the api_key_env keys
    # anew. The network client is looked up by the provider's `network` (gateway/upstream/
    # transports.py): a changed one (proxy, TLS files, transport, trust_env) gets a new client
    # and pool, a changed `entra` a new token source.
    "providers": (
        "name",
        "type",
        "base_url",
        "api_key_env",
        "anthropic_version",
        "responses",
        "stream_usage",
        "reasoning_content",
        "thought_signatures",
        "deployment",
        "api_version",
        "auth",
        "entra",
        "headers",
        "headers_env",
        "query",
        "drop_params",
        "drop_betas",
        "compaction",
        "network",
    ),
    "providers.network": (
        "transport",
        "http2",
        "proxy",
        "proxy_password_env",
        "trust_env",
        "ca_file",
        "client_cert",
        "client_key",
        "max_response_bytes",
    ),
    "providers.entra": (
        "tenant_id",
        "client_id",
        "client_secret_env",
        "federated_token_file",
        "authority",
        "token_scope",
    ),
    # Routed, priced and limited from the runtime's models (the limit plans are rebuilt).
    "models": (
        "name",
        "deployments",
        "strategy",
        "fallbacks",
        "context_window_fallbacks",
        "content_policy_fallbacks",
        "sticky",
        "max_attempts",
        "deployment_names",
    ),
    "models.deployments": (
        "provider",
        "model",
        "weight",
        "input_cost_per_1m",
        "output_cost_per_1m",
        "cached_input_cost_per_1m",
        "cache_write_cost_per_1m",
        "cache_write_1h_cost_per_1m",
        "audio_input_cost_per_1m",
        "audio_output_cost_per_1m",
        "web_search_cost_per_1k",
        "tier_costs",
        "context_window",
        "reasoning",
        "sampling",
        "api",
        "rpm",
        "tpm",
        "timeouts",
        "name",
    ),
    # Passed with each upstream request (connect included), not fixed in the pool.
    "models.deployments.timeouts": ("connect_s", "first_token_s", "idle_s", "total_s"),
    # Looked up by the runtime's table of key hashes: a revoked key is refused at once.
    "keys": (
        "id",
        "key_sha256",
        "team",
        "policy",
        "models",
        "key_env",
        "previous_key_sha256",
        "spenders",
    ),
    # Policies: limits by the rebuilt limit plans, cache settings per request, guardrails
    # compiled by the reload off the event loop (a PII engine is loaded in that thread).
    "policy": (
        "name",
        "limits",
        "cache",
        "team_limits",
        "model_limits",
        "user_limits",
        "guardrails",
    ),
    "policy.limits": ("rpm", "tpm", "max_concurrent", "budget_usd_per_day", "budget_usd_per_month"),
    "policy.cache": ("mode", "ttl_s", "per_team", "embedding_model", "similarity"),
    "policy.guardrails": (
        "name",
        "type",
        "applies_to",
        "action",
        "on_error",
        "threshold",
        "entities",
        "engine",
        "recognizers",
        "patterns",
        "deny_list",
        "model",
    ),
    "policy.guardrails.recognizers": ("entity", "patterns", "deny_list", "context", "score"),
    # The top level: the tables (each placed above), the policies and prompts read from their
    # directories (a changed directory is read and watched: gateway/reload.py).
    "config": (
        "server",
        "state",
        "logging",
        "admin",
        "providers",
        "models",
        "keys",
        "policies",
        "policies_dir",
        "prompts_dir",
        "prompts",
        "routing",
        "metrics",
        "tracing",
        "source",
        "version",
    ),
}

# Whole tables built once at start: the trace exporter and the state backend. Their values
# are not shown in a report (a Redis URL may hold a password).
_WHOLE_TABLES: Mapping[str, tuple[str, ...]] = {
    "tracing": tuple(f.name for f in dataclasses.fields(TracingConfig)),
    "state": tuple(f.name for f in dataclasses.fields(StateConfig)),
}

RESTART_ONLY: Mapping[str, tuple[str, ...]] = {
    # The socket and the workers; the HTTP protocol's limits (gateway/http/serving.py).
    "server": (
        "host",
        "port",
        "workers",
        "max_header_bytes",
        "max_headers",
        "header_timeout_s",
        "body_timeout_s",
        "max_connections",
        "response_writer",
    ),
    # The record sink's file, and the redaction it shares with the tag labels and traces: a
    # reload that turned redaction on would else be believed and not done.
    "logging": ("path", "redact_pii_in_logs"),
    **_WHOLE_TABLES,
}


def restart_only_changes(old: GatewayConfig, new: GatewayConfig) -> list[str]:
    """What changed in settings a running process cannot apply, as `table.key: old -> new`
    (`table.key changed` for `[tracing]` and `[state]`)."""
    changes = []
    for table, names in RESTART_ONLY.items():
        before_table, after_table = getattr(old, table), getattr(new, table)
        for name in names:
            before, after = getattr(before_table, name), getattr(after_table, name)
            if before == after:
                continue
            shown = " changed" if table in _WHOLE_TABLES else f": {before} -> {after}"
            changes.append(f"{table}.{name}{shown}")
    return changes


def keep_restart_only(old: GatewayConfig, new: GatewayConfig) -> GatewayConfig:
    """The new config with the restart-only settings of the running one."""
    tables = {
        table: dataclasses.replace(
            getattr(new, table), **{name: getattr(getattr(old, table), name) for name in names}
        )
        for table, names in RESTART_ONLY.items()
    }
    return dataclasses.replace(new, **tables)
