"""The request log's usage for `/admin/usage`: what one scan of the log counts, and the child
process that runs it (`python -m gateway.observability.usage_scan`, the query as JSON on stdin,
the answer as JSON on stdout).

A request log may hold 100 MB: its parse is seconds of CPU. In a worker thread (as it was) the
parse still held the GIL for most of that time, so the worker's event loop waited up to the
switch interval each time it needed the GIL and every request of that worker (streams,
`/healthz`) was slowed for as long as the scan ran. In a child process the parse holds no lock
of the worker's, runs at a lower priority (`nice` 10) and the worker only waits on a pipe.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypedDict

import orjson

from gateway.observability.log_reader import LogReader, Record, RecordFilter
from gateway.observability.log_stats import aggregate, is_error
from gateway.rotating_files import MTIME_SLACK_S

# How much less the child asks of the CPU than the workers that serve requests.
NICENESS = 10


class UsageQuery(TypedDict):
    path: str
    backups: int  # the log's kept rotated files (`[logging] backups`), read before it
    since: float
    key: str | None
    team: str | None
    by: list[str]  # group names (`parse_by`), or empty for totals only


def _totals() -> dict[str, Any]:
    return {"requests": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}


def _counted(records: Iterable[Record], totals: dict[str, Any]) -> Iterator[Record]:
    for record in records:
        totals["requests"] += 1
        totals["errors"] += is_error(record)
        totals["prompt_tokens"] += record.get("prompt_tokens") or 0
        totals["completion_tokens"] += record.get("completion_tokens") or 0
        totals["cost_usd"] += record.get("cost_usd") or 0.0
        yield record


def scan_usage(query: UsageQuery) -> dict[str, Any]:
    """Requests, errors, tokens and spend since `since` for a key and/or team, in the log and
    its kept rotated files, and, when `by` names groups, the same records grouped as
    `gateway stats --by` does; one pass."""
    totals = _totals()
    result: dict[str, Any] = totals
    path = Path(query["path"])
    if query["by"]:
        result["by"], result["groups"] = list(query["by"]), []
    key, team = query["key"], query["team"]
    wanted = RecordFilter(since=query["since"], keys=(key,) if key else ())
    # The kept rotated files too (those last modified before `since` left unopened), under the
    # rotation lock; a log not written yet counts nothing.
    reader = LogReader(
        path, query["backups"], newer_than=query["since"] - MTIME_SLACK_S, missing_ok=True
    )
    matching = (r for r in reader if wanted.matches(r) and (not team or r.get("team") == team))
    records = _counted(matching, totals)
    if query["by"]:
        result["groups"] = aggregate(records, query["by"])[0]
    else:
        for _ in records:
            pass
    totals["cost_usd"] = round(totals["cost_usd"], 10)
    return result


def main() -> int:
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    query: UsageQuery = orjson.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(orjson.dumps(scan_usage(query), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
