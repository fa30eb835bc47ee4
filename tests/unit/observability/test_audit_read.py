"""`AuditLog.read`: what `/admin/audit` serves from the trail, whatever else the file holds."""

from __future__ import annotations

import os
import time
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


def test_the_trail_rotates_past_its_size_keeping_its_backups(tmp_path: Path) -> None:
    trail = AuditLog(tmp_path / "audit.jsonl", max_bytes=300, backups=2)
    for n in range(30):
        trail.write("cli:ops", "reload", n=n)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.lock"]
    assert all(path.stat().st_size < 300 + 100 for path in tmp_path.glob("audit.jsonl*"))
    read = [entry["n"] for entry in trail.read()]
    assert read == list(range(read[0], 30)) and read[0] > 0, "the latest, oldest first, once"
    assert [entry["n"] for entry in trail.read(since=time.time() + 60)] == []


def test_rotated_files_older_than_since_are_not_opened(tmp_path: Path) -> None:
    trail = AuditLog(tmp_path / "audit.jsonl", max_bytes=1, backups=1)
    trail.write("cli:ops", "reload", n=0)
    trail.write("cli:ops", "reload", n=1)  # rotates the first line to audit.jsonl.1
    old = time.time() - 3600
    os.utime(tmp_path / "audit.jsonl.1", (old, old))
    # A line dated after `since` in a file last modified an hour before it: not read.
    assert [entry["n"] for entry in trail.read(since=old + 60)] == [1]
    assert [entry["n"] for entry in trail.read(since=0)] == [0, 1]
