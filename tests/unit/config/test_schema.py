"""types.py and the loader agree: every field is read from TOML, and no other key is accepted.

The test walks the dataclasses of `gateway.config.types` itself (fields, `toml(...)` marks), so a
field added to a type without the loader reading it, or a key the loader accepts that no type
has, fails here.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trustme

from gateway.config import check_config, entra_types, load_config, state_types, types
from gateway.config.schema import TOML_METADATA_KEY, Toml
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
    ProviderConfig,
    RecognizerConfig,
    RoutingConfig,
    ServerConfig,
    TracingConfig,
)

SHA = "f77894fdfa58e447c57e077eaa9708e8e009c84dc6aba2db80461275e9b85be7"
ENV = {"ADMIN": "adm", "OAI": "sk-oai", "BOB": "sk-bob", "SENTINEL_PW": "pw", "AZS": "s"}

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
        {
            "name": "oai",
            "type": "openai",
            "base_url": "https://api.openai.com/v1",
            "api_key_env": "OAI",
            "anthropic_version": "2024-01-01",
            "responses": False,
            "stream_usage": False,
        },
        {
            "name": "az",
            "type": "azure",
            "base_url": "https://r.openai.azure.com",
            "deployment": "gpt4o",
            "api_version": "2024-06-01",
            "headers": {"x-team": "blue"},
            "query": {"tag": "a"},
            "transport": "httpx",
            "http2": True,
            "proxy": "http://proxy.internal:3128",
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
                    "context_window": 128000,
                    "reasoning": True,
                    "rpm": 100,
                    "tpm": 20000,
                    "connect_timeout_s": 1,
                    "first_token_timeout_s": 2,
                    "idle_timeout_s": 3,
                    "total_timeout_s": 4,
                }
            ],
        },
        {"name": "small", "deployments": [{"provider": "oai", "model": "gpt-4o-mini"}]},
    ],
    "keys": [
        {"id": "alice", "key_sha256": SHA, "team": "blue", "policy": "strict", "models": ["gpt"]},
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


def config_types() -> set[type]:
    """Every dataclass that `gateway.config.types` defines (with `entra_types` and
    `state_types`, its parts)."""
    return {
        cls
        for module in (types, entra_types, state_types)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
    }


def mark(field: dataclasses.Field[Any]) -> Toml:
    found = field.metadata.get(TOML_METADATA_KEY, Toml())
    assert isinstance(found, Toml)
    return found


def read_fields(cls: type) -> Iterator[dataclasses.Field[Any]]:
    """The fields of `cls` that the TOML sets (not computed, not read from elsewhere)."""
    for field in dataclasses.fields(cls):
        if field.init and not mark(field).skip:
            yield field


def flattened(cls: type, field: dataclasses.Field[Any]) -> type:
    """The dataclass type of `field`, whose keys are written in the table of `cls`."""
    hint = typing.get_type_hints(cls)[field.name]
    assert dataclasses.is_dataclass(hint) and isinstance(hint, type)
    return hint


def toml_keys(cls: type) -> set[str]:
    """The keys a table of type `cls` may hold: its read fields, under their TOML names."""
    keys: set[str] = set()
    for field in read_fields(cls):
        if mark(field).flatten:
            keys |= toml_keys(flattened(cls, field))
        else:
            keys.add(mark(field).key or field.name)
    return keys


def toml_value(value: Any) -> str:
    """`value` as an inline TOML value (strings as JSON strings, which TOML reads alike)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def write(root: Path, config: Mapping[str, Any], policy: Mapping[str, Any]) -> Path:
    (root / "tls").mkdir(exist_ok=True)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(root / "tls" / "ca.pem"))
    client = ca.issue_cert("client.test")
    client.cert_chain_pems[0].write_to_path(str(root / "tls" / "client.pem"))
    client.private_key_pem.write_to_path(str(root / "tls" / "client.key"))
    (root / "pol").mkdir(exist_ok=True)
    (root / "pol" / "strict.toml").write_text(
        "".join(f"{key} = {toml_value(value)}\n" for key, value in policy.items())
    )
    path = root / "config.toml"
    path.write_text("".join(f"{key} = {toml_value(value)}\n" for key, value in config.items()))
    return path


def at(document: Any, path: tuple[str | int, ...]) -> dict[str, Any]:
    for part in path:
        document = document[part]
    assert isinstance(document, dict)
    return document


def fields_left_at_default(value: object, read: dict[type, set[str]]) -> None:
    """Record in `read` each read field of each dataclass in `value` that differs from default."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        names = read.setdefault(cls, set())
        for field in dataclasses.fields(cls):
            inner = getattr(value, field.name)
            if field.default is not dataclasses.MISSING:
                default: object = field.default
            elif field.default_factory is not dataclasses.MISSING:
                default = field.default_factory()
            else:
                default = dataclasses.MISSING  # required: set whenever the value exists
            if inner != default:
                names.add(field.name)
            fields_left_at_default(inner, read)
    elif isinstance(value, (tuple, list)):
        for item in value:
            fields_left_at_default(item, read)
    elif isinstance(value, Mapping):
        for item in value.values():
            fields_left_at_default(item, read)


def test_the_documents_here_name_every_table_type() -> None:
    located = set(CONFIG_TABLES.values()) | set(POLICY_TABLES.values())
    inside = {
        flattened(cls, field)
        for cls in config_types()
        for field in read_fields(cls)
        if mark(field).flatten
    }
    assert located | inside == config_types()
    for tables, document in ((CONFIG_TABLES, CONFIG), (POLICY_TABLES, POLICY)):
        for path, cls in tables.items():
            assert set(at(document, path)) <= toml_keys(cls), (path, cls)


def test_every_field_of_every_type_is_read_from_toml(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONFIG, POLICY), env=ENV)
    read: dict[type, set[str]] = {}
    fields_left_at_default(config, read)
    # Fields that exclude others (Sentinel or Cluster) are set in a second config.
    for i, variant in enumerate(VARIANTS):
        (tmp_path / f"variant{i}").mkdir()
        other = load_config(write(tmp_path / f"variant{i}", {**CONFIG, **variant}, POLICY), env=ENV)
        fields_left_at_default(other, read)
    missed = [
        f"{cls.__name__}.{field.name}"
        for cls in sorted(config_types(), key=lambda cls: cls.__name__)
        for field in read_fields(cls)
        if field.name not in read.get(cls, set())
    ]
    assert missed == []


@pytest.mark.parametrize(
    ("document", "path"),
    [("config", path) for path in CONFIG_TABLES] + [("policy", path) for path in POLICY_TABLES],
)
def test_no_key_outside_the_types_is_accepted(
    tmp_path: Path, document: str, path: tuple[str | int, ...]
) -> None:
    # Every name any config type uses (also computed and skipped fields), so a key accepted in
    # the wrong table, or one accepted that no type has, shows up.
    vocabulary = {f.name for cls in config_types() for f in dataclasses.fields(cls)}
    vocabulary |= {key for cls in config_types() for key in toml_keys(cls)}
    config, policy = copy.deepcopy(CONFIG), copy.deepcopy(POLICY)
    tables = CONFIG_TABLES if document == "config" else POLICY_TABLES
    table = at(config if document == "config" else policy, path)
    foreign = vocabulary - toml_keys(tables[path])
    table.update(dict.fromkeys(foreign, 1))
    problems = [p.message for p in check_config(write(tmp_path, config, policy), env=ENV)]
    unknown = {m.group(1) for p in problems if (m := re.match(r"unknown key '(\w+)'", p))}
    assert unknown == foreign
