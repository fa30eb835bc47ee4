"""Every field of every config type set to a value other than its default: the documents
tests/unit/config/test_schema.py writes and loads, and which table of them is which type."""

from __future__ import annotations

from typing import Any

from gateway.config.provider_types import ProviderConfig
from gateway.config.state_types import StateConfig
from gateway.config.types import (
    AdminConfig,
    CacheConfig,
    DeploymentConfig,
    GatewayConfig,
    GuardrailConfig,
    KeyConfig,
    LimitsConfig,
    LoggingConfig,
    MetricsConfig,
    ModelConfig,
    PolicyConfig,
    RecognizerConfig,
    RoutingConfig,
    ServerConfig,
    TierCosts,
    TracingConfig,
)

SHA = "f77894fdfa58e447c57e077eaa9708e8e009c84dc6aba2db80461275e9b85be7"
ENV = {
    "ADMIN": "adm",
    "OAI": "sk-oai",
    "BOB": "sk-bob",
    "SENTINEL_PW": "pw",
    "AZS": "s",
    "REDIS_PW": "rpw",
    "APIM": "apim-key",
    "PROXY_PW": "proxy-pw",
}

# Every field of every config type set to a value other than its default (somewhere: in
# CONFIG, or in one of VARIANTS, for fields that cannot be set together).
CONFIG: dict[str, Any] = {
    "policies_dir": "pol",
    "server": {
        "host": "0.0.0.0",
        "port": 9000,
        "workers": 2,
        "max_body_bytes": 1024,
        "request_timeout_s": 30.5,
        "cors_origins": ["https://app.example.com"],
        "max_header_bytes": 8192,
        "max_headers": 50,
        "header_timeout_s": 5.5,
        "body_timeout_s": 12.5,
        "max_connections": 64,
        "max_inflight_body_bytes": 1048576,
        "response_writer": "uvicorn",
        "split_secret_watch": False,
    },
    "state": {
        "backend": "redis",
        "redis_url": "redis://localhost:6379/0",
        "redis_password_env": "REDIS_PW",
        "on_redis_error": "fail_closed",
        "responses_ttl_s": 3600,
        "responses_max_bytes": 65536,
        "client": "redis-py",
        "timeout_ms": 300,
        "connect_timeout_ms": 2000,
        "cluster": True,
    },
    "logging": {
        "path": "out/requests.jsonl",
        "include_bodies": True,
        "redact_pii_in_logs": True,
        "max_bytes": 2048,
        "backups": 0,
        "audit_max_bytes": 4096,
        "audit_backups": 0,
        "record_batch_ms": 0.0,
    },
    "admin": {"key_env": "ADMIN"},
    "metrics": {"tag_labels": ["feature"], "tag_values_max": 5},
    "tracing": {
        "endpoint": "http://collector:4318/v1/traces",
        "protocol": "grpc",
        "service_name": "gw",
        "capture_content": True,
        "sample_ratio": 0.5,
        "queue_size": 100,
        "export_timeout_s": 1.5,
    },
    "routing": {
        "max_attempts": 4,
        "backoff_base_s": 0.5,
        "backoff_max_s": 3.0,
        "breaker_failures": 6,
        "breaker_window_s": 31.0,
        "breaker_cooldown_s": 32.0,
        "probe_timeout_s": 33.0,
        "rate_limit_cooldown_s": 7.0,
        "missing_model_cooldown_s": 90.0,
    },
    "providers": [
        {"name": "ant", "type": "anthropic", "base_url": "https://api.anthropic.com"},
        {
            "name": "oai",
            "type": "openai",
            "base_url": "https://api.openai.com/v1",
            "api_key_env": "OAI",
            "anthropic_version": "2024-01-01",
            "responses": True,
            "stream_usage": False,
            "reasoning_content": True,
            "thought_signatures": True,
            "drop_params": ["prompt_cache_key", "stream_options.include_usage"],
            "drop_betas": ["advisor-tool-2026-03-01"],
            "compaction": "gateway",
        },
        {
            "name": "az",
            "type": "azure",
            "base_url": "https://r.openai.azure.com",
            "deployment": "gpt4o",
            "api_version": "2024-06-01",
            "headers": {"x-team": "blue"},
            "headers_env": {"ocp-apim-subscription-key": "APIM"},
            "query": {"tag": "a"},
            "transport": "httpx",
            "http2": True,
            "proxy": "http://gw@proxy.internal:3128",
            "proxy_password_env": "PROXY_PW",
            "trust_env": False,
            "ca_file": "tls/ca.pem",
            "client_cert": "tls/client.pem",
            "client_key": "tls/client.key",
            "max_response_bytes": 1024,
        },
        {
            "name": "az-entra",
            "type": "azure",
            "base_url": "https://r.openai.azure.com",
            "api_version": "2024-10-21",
            "auth": "entra_client_secret",
            "tenant_id": "contoso",
            "client_id": "app",
            "client_secret_env": "AZS",
            "token_scope": "https://cognitiveservices.azure.us/.default",
        },
        {
            "name": "az-wi",
            "type": "azure",
            "base_url": "https://r.openai.azure.com",
            "api_version": "2024-10-21",
            "auth": "entra_workload_identity",
            "tenant_id": "contoso",
            "client_id": "app",
            "federated_token_file": "tls/ca.pem",
            "authority": "https://login.microsoftonline.us",
        },
    ],
    "models": [
        {
            "name": "gpt",
            "strategy": "lowest_cost",
            "fallbacks": ["small"],
            "context_window_fallbacks": ["small"],
            "content_policy_fallbacks": ["small"],
            "sticky": "user",
            "max_attempts": 2,
            "deployments": [
                {
                    "provider": "oai",
                    "model": "gpt-4o",
                    "weight": 3,
                    "input_cost_per_1m": 2.5,
                    "output_cost_per_1m": 10,
                    "cached_input_cost_per_1m": 1.25,
                    "cache_write_cost_per_1m": 3.75,
                    "cache_write_1h_cost_per_1m": 6.0,
                    "audio_input_cost_per_1m": 40.0,
                    "audio_output_cost_per_1m": 80.0,
                    "web_search_cost_per_1k": 10.0,
                    "context_window": 128000,
                    "reasoning": True,
                    "api": "responses",
                    "rpm": 100,
                    "tpm": 20000,
                    "connect_timeout_s": 1,
                    "first_token_timeout_s": 2,
                    "idle_timeout_s": 3,
                    "total_timeout_s": 4,
                    "tier_costs": {"priority": 1.8, "flex": 0.4, "ultrafast": 5.5, "fast": 3},
                }
            ],
        },
        {"name": "small", "deployments": [{"provider": "oai", "model": "gpt-4o-mini"}]},
        {
            "name": "claude",
            "deployments": [{"provider": "ant", "model": "opus", "sampling": "one"}],
        },
    ],
    "keys": [
        {
            "id": "alice",
            "key_sha256": SHA,
            "team": "blue",
            "policy": "strict",
            "models": ["gpt"],
            "previous_key_sha256": "c" * 64,
        },
        {"id": "bob", "key_env": "BOB"},
    ],
}

VARIANTS: list[dict[str, Any]] = [
    {
        "state": {
            "backend": "redis",
            "sentinels": ["sentinel-a:26379"],
            "sentinel_master": "primary",
            "sentinel_password_env": "SENTINEL_PW",
            "key_prefix": "staging",
        }
    }
]

POLICY: dict[str, Any] = {
    "limits": {
        "rpm": 10,
        "tpm": 1000,
        "max_concurrent": 2,
        "budget_usd_per_day": 1,
        "budget_usd_per_month": 20.5,
    },
    "cache": {
        "mode": "semantic",
        "ttl_s": 60,
        "per_team": False,
        "embedding_model": "gpt",
        "similarity": 0.9,
    },
    "team_limits": {"rpm": 20},
    "model_limits": {"gpt": {"tpm": 500}},
    "user_limits": {"rpm": 3},
    "guardrails": [
        {
            "name": "pii",
            "type": "pii",
            "applies_to": "both",
            "action": "restore",
            "on_error": "allow",
            "threshold": 0.3,
            "entities": ["PERSON", "EMPLOYEE_ID"],
            "engine": "ner",
            "recognizers": [
                {
                    "entity": "EMPLOYEE_ID",
                    "patterns": ["EMP-\\d{6}"],
                    "deny_list": ["EMP-000000"],
                    "context": ["employee"],
                    "score": 0.7,
                }
            ],
        },
        {"name": "words", "type": "regex", "patterns": ["secret"], "deny_list": ["classified"]},
        {"name": "mod", "type": "moderation", "model": "small"},
    ],
}

# Where each table type sits in CONFIG or POLICY (the timeouts are flattened in a deployment).
CONFIG_TABLES: dict[tuple[str | int, ...], type] = {
    (): GatewayConfig,
    ("server",): ServerConfig,
    ("state",): StateConfig,
    ("logging",): LoggingConfig,
    ("admin",): AdminConfig,
    ("routing",): RoutingConfig,
    ("metrics",): MetricsConfig,
    ("tracing",): TracingConfig,
    ("providers", 0): ProviderConfig,
    ("providers", 1): ProviderConfig,
    ("models", 0): ModelConfig,
    ("models", 0, "deployments", 0): DeploymentConfig,
    ("models", 0, "deployments", 0, "tier_costs"): TierCosts,
    ("keys", 0): KeyConfig,
}
POLICY_TABLES: dict[tuple[str | int, ...], type] = {
    (): PolicyConfig,
    ("limits",): LimitsConfig,
    ("cache",): CacheConfig,
    ("team_limits",): LimitsConfig,
    ("model_limits", "gpt"): LimitsConfig,
    ("user_limits",): LimitsConfig,
    ("guardrails", 0): GuardrailConfig,
    ("guardrails", 0, "recognizers", 0): RecognizerConfig,
}
