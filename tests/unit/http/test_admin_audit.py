"""gateway.http.admin `GET /admin/audit`: the latest `limit` entries since `since`, never the
whole trail at once (a trail of months answered tens of MB, built on the event loop)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import orjson
import pytest
from starlette.requests import Request

from gateway.errors import InvalidRequest
from gateway.http.admin import AUDIT_LIMIT, AdminAPI
from gateway.observability.audit import AuditLog
from gateway.pipeline.services import Services
from gateway.reload import Reloader


def answer(trail: AuditLog, query: str) -> dict[str, object]:
    reloader = SimpleNamespace(audit=trail)
    api = AdminAPI(cast(Services, SimpleNamespace()), cast(Reloader, reloader))
    scope = {"type": "http", "method": "GET", "path": "/admin/audit", "headers": []}
    request = Request({**scope, "query_string": query.encode()})
    return dict(orjson.loads(asyncio.run(api.audit(request)).body))


def trail_of(tmp_path: Path, count: int) -> AuditLog:
    trail = AuditLog(tmp_path / "audit.jsonl")
    lines = (orjson.dumps({"ts": 1000 + i, "action": "reload", "n": i}) for i in range(count))
    trail.path.write_bytes(b"\n".join(lines) + b"\n")
    return trail


def numbers(result: dict[str, object]) -> list[int]:
    return [entry["n"] for entry in cast(list[dict[str, int]], result["entries"])]


def test_the_latest_entries_up_to_the_limit_oldest_first(tmp_path: Path) -> None:
    trail = trail_of(tmp_path, AUDIT_LIMIT + 5)
    default = answer(trail, "since=0")
    assert (default["limit"], default["truncated"]) == (AUDIT_LIMIT, True)
    assert numbers(default) == list(range(5, AUDIT_LIMIT + 5))
    two = answer(trail, "since=0&limit=2")
    assert (numbers(two), two["truncated"]) == ([AUDIT_LIMIT + 3, AUDIT_LIMIT + 4], True)
    recent = answer(trail, f"since={1000 + AUDIT_LIMIT + 2}&limit=10")
    assert (numbers(recent), recent["truncated"]) == (
        [AUDIT_LIMIT + 2, AUDIT_LIMIT + 3, AUDIT_LIMIT + 4],
        False,
    )


@pytest.mark.parametrize("limit", ["0", "-1", "10001", "1.5", "abc", "\u0663", "9" * 5000])
def test_a_limit_out_of_range_is_400_naming_it(tmp_path: Path, limit: str) -> None:
    """A 5,000-digit number went to int(), which Python refuses past 4,300 digits."""
    with pytest.raises(InvalidRequest) as refused:
        answer(trail_of(tmp_path, 1), f"since=0&limit={limit}")
    assert refused.value.param == "limit"


def test_the_latest_entries_are_read_across_the_rotated_files(tmp_path: Path) -> None:
    """The trail rotates (`[logging] audit_max_bytes`): its latest entries are in `audit.jsonl`
    and the kept `audit.jsonl.1`, `.2`; the answer reads them, newest last, as from one file."""
    trail = AuditLog(tmp_path / "audit.jsonl", max_bytes=400, backups=2)
    for n in range(40):
        trail.write("cli:ops", "reload", n=n)
    assert (tmp_path / "audit.jsonl.2").exists() and not (tmp_path / "audit.jsonl.3").exists()
    kept = sum(
        len(trail.path.with_name(name).read_bytes().splitlines())
        for name in ("audit.jsonl", "audit.jsonl.1", "audit.jsonl.2")
    )
    every = answer(trail, "since=0&limit=10000")
    assert (numbers(every), every["truncated"]) == (list(range(40 - kept, 40)), False)
    assert len(trail.path.read_bytes().splitlines()) < 5, "the latest 5 span the rotation"
    latest = answer(trail, "since=0&limit=5")
    assert (numbers(latest), latest["truncated"]) == (list(range(35, 40)), True)
