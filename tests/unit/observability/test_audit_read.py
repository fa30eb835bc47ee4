"""`AuditLog.read`: what `/admin/audit` serves from the trail, whatever else the file holds."""

from __future__ import annotations

from pathlib import Path

from gateway.observability.audit import AuditLog


def test_lines_that_are_not_the_gateways_are_skipped(tmp_path: Path) -> None:
    trail = AuditLog(tmp_path / "audit.jsonl")
    trail.path.write_text(
        '{"ts": 100.0, "action": "reload"}\n'
        # A torn line, JSON that is not an entry, and entries whose `ts` is not a time (hand
        # edits): a string or null `ts` made `/admin/audit` fail with a 500.
        '{torn\n[1, 2]\n{"ts": "yesterday", "action": "x"}\n'
        '{"ts": null, "action": "x"}\n{"ts": true, "action": "x"}\n{"action": "x"}\n'
        '{"ts": 200, "action": "promote"}\n'
    )
    assert [entry["action"] for entry in trail.read()] == ["reload", "promote"]
    assert [entry["action"] for entry in trail.read(since=150.0)] == ["promote"]
    trail.write("cli:ops", "reload", result="ok")  # what the gateway writes reads back
    assert [entry["action"] for entry in trail.read(since=201.0)] == ["reload"]
