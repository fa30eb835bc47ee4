"""A reload keeps the settings a running process cannot apply, and says which changed."""

from __future__ import annotations

from pathlib import Path

from gateway.config import load_config
from gateway.config.types import GatewayConfig
from gateway.reload import keep_restart_only, restart_only_changes
from tests.mock_config import MOCK_MODEL


def _config(root: Path, redact: bool) -> GatewayConfig:
    path = root / f"config-{redact}.toml"
    path.write_text(f"[logging]\nredact_pii_in_logs = {str(redact).lower()}\n" + MOCK_MODEL)
    return load_config(path, env={})


def test_turning_log_redaction_on_needs_a_restart_and_is_not_believed_meanwhile(
    tmp_path: Path,
) -> None:
    # The record sink and the tag labels' redaction are built at start: a reload that turned
    # it on would have left records and /metrics unredacted while the config said otherwise.
    old, new = _config(tmp_path, False), _config(tmp_path, True)
    assert restart_only_changes(old, new) == ["logging.redact_pii_in_logs: False -> True"]
    assert keep_restart_only(old, new).logging.redact_pii_in_logs is False
