"""Read the gateway's request log (JSON lines) from a test, and wait for records to arrive.

The gateway writes records off the request path, a moment after the answer: tests wait for the
records they need instead of sleeping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conditions import wait_until


def read_records(path: Path) -> list[dict[str, Any]]:
    """The complete records in the log so far (a line still being written is left out)."""
    if not path.exists():
        return []
    *complete, _partial = path.read_text().split("\n")
    return [json.loads(line) for line in complete if line]


def wait_for_records(count: int, *paths: Path, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """The records of the logs at `paths` once there are at least `count` of them in all."""

    def enough() -> list[dict[str, Any]] | None:
        records = [record for path in paths for record in read_records(path)]
        return records if len(records) >= count else None

    return wait_until(enough, timeout_s, message=f"the logs never held {count} records")


def wait_for_record(path: Path, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((r for r in read_records(path) if r["id"] == request_id), None)

    return wait_until(found, timeout, message=f"no record for {request_id}")
