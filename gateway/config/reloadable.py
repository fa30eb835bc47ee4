"""Which settings of `[server]`, `[logging]`, `[metrics]`, `[tracing]` and `[state]` a live
reload applies, and which need a restart.

A reload builds a new runtime from the new config, but some parts of a running process were
built once at start from the config of then: the listening socket and the worker processes,
the HTTP protocol's limits (they travel with the protocol class), the request log's file and
its redaction, the trace exporter and the state backend. A reload keeps the running value of
each such setting (`keep_restart_only`) and names every one that changed (`restart_only_changes`),
so what a reload reports as applied is applied. Every field of these tables is in exactly one
of `APPLIED_LIVE` and `RESTART_ONLY` (tests/unit/config/test_reloadable.py walks the dataclasses:
a new field fails it until it is placed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gateway.config.state_types import StateConfig
from gateway.config.types import GatewayConfig, TracingConfig

# Read from the running config at each use (`services.runtime.config`), or applied by the
# reload itself (the record sink's rotation and batching, the audit trail).
APPLIED_LIVE: Mapping[str, tuple[str, ...]] = {
    "server": ("max_body_bytes", "request_timeout_s", "cors_origins", "max_inflight_body_bytes"),
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
