"""A reload keeps the settings a running process cannot apply and says which changed; every
other setting of those tables it applies."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.config.entra_types import EntraConfig
from gateway.config.provider_types import NetworkConfig, ProviderConfig
from gateway.config.reloadable import (
    APPLIED_LIVE,
    RESTART_ONLY,
    keep_restart_only,
    restart_only_changes,
)
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
    Timeouts,
    TracingConfig,
)
from tests.mock_config import MOCK_MODEL

TABLES = {
    "server": ServerConfig,
    "logging": LoggingConfig,
    "metrics": MetricsConfig,
    "tracing": TracingConfig,
    "state": StateConfig,
    "admin": AdminConfig,
    "routing": RoutingConfig,
    "providers": ProviderConfig,
    "providers.network": NetworkConfig,
    "providers.entra": EntraConfig,
    "models": ModelConfig,
    "models.deployments": DeploymentConfig,
    "models.deployments.timeouts": Timeouts,
    "keys": KeyConfig,
    "policy": PolicyConfig,
    "policy.limits": LimitsConfig,
    "policy.cache": CacheConfig,
    "policy.guardrails": GuardrailConfig,
    "policy.guardrails.recognizers": RecognizerConfig,
    "config": GatewayConfig,
}


def _config(root: Path, name: str, toml: str) -> GatewayConfig:
    path = root / f"{name}.toml"
    path.write_text(toml + "\n" + MOCK_MODEL)
    return load_config(path, env={})


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_setting_is_either_applied_by_a_reload_or_restart_only(table: str) -> None:
    # A setting added later fails here until it is placed: a reload must never report as
    # applied what the running process keeps.
    fields = {f.name for f in dataclasses.fields(TABLES[table])}
    live, restart = set(APPLIED_LIVE.get(table, ())), set(RESTART_ONLY.get(table, ()))
    assert not live & restart
    assert live | restart == fields


def test_every_table_is_walked() -> None:
    # A table placed in the lists but not walked above could gain an unplaced field.
    assert set(APPLIED_LIVE) | set(RESTART_ONLY) == set(TABLES)


def test_turning_log_redaction_on_needs_a_restart_and_is_not_believed_meanwhile(
    tmp_path: Path,
) -> None:
    # The record sink and the tag labels' redaction are built at start: a reload that turned
    # it on would have left records and /metrics unredacted while the config said otherwise.
    old = _config(tmp_path, "old", "[logging]\nredact_pii_in_logs = false")
    new = _config(tmp_path, "new", "[logging]\nredact_pii_in_logs = true")
    assert restart_only_changes(old, new) == ["logging.redact_pii_in_logs: False -> True"]
    assert keep_restart_only(old, new).logging.redact_pii_in_logs is False


def test_the_http_limits_need_a_restart_and_a_reload_says_so(tmp_path: Path) -> None:
    # They travel with the protocol class made at start: a reload reported them as applied.
    old = _config(tmp_path, "old", "")
    new = _config(tmp_path, "new", "[server]\nmax_connections = 10\nheader_timeout_s = 2.5")
    assert restart_only_changes(old, new) == [
        "server.header_timeout_s: 10.0 -> 2.5",
        "server.max_connections: 1000 -> 10",
    ]
    kept = keep_restart_only(old, new).server
    assert (kept.max_connections, kept.header_timeout_s) == (1000, 10.0)


def test_tracing_and_state_changes_are_named_without_their_values(tmp_path: Path) -> None:
    old = _config(tmp_path, "old", "")
    new = _config(tmp_path, "new", '[tracing]\nsample_ratio = 0.5\n[state]\nkey_prefix = "staging"')
    assert restart_only_changes(old, new) == [
        "tracing.sample_ratio changed",
        "state.key_prefix changed",
    ]
    kept = keep_restart_only(old, new)
    assert (kept.tracing, kept.state) == (old.tracing, old.state)


def test_the_settings_a_reload_applies_are_taken_from_the_new_config(tmp_path: Path) -> None:
    old = _config(tmp_path, "old", "")
    new = _config(
        tmp_path,
        "new",
        "[server]\nmax_body_bytes = 1000\n[logging]\nmax_bytes = 4096\nbackups = 2\n"
        "record_batch_ms = 0\n[metrics]\ntag_values_max = 3",
    )
    assert restart_only_changes(old, new) == []
    kept = keep_restart_only(old, new)
    assert (kept.server, kept.logging, kept.metrics) == (new.server, new.logging, new.metrics)
