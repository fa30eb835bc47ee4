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


def test_lines_skipped_unparsed_are_those_a_full_parse_would_skip(tmp_path: Path) -> None:
    """Older lines are skipped by their `{"ts":N,` prefix alone; a line that only looks like
    the gateway's is parsed, and kept or skipped as before."""
    trail = AuditLog(tmp_path / "audit.jsonl")
    trail.path.write_text(
        '{"ts":100,"action":"old"}\n{"ts":300,"action":"new"}\n'
        '{"ts":100}\n{"ts":1e999,"action":"far"}\n{"ts":true,"action":"x"}\n'
        '{"ts":"400","action":"x"}\n{"ts":250 ,"action":"spaced"}\n'
    )
    assert [entry.get("action") for entry in trail.read(since=200.0)] == ["new", "spaced"]
