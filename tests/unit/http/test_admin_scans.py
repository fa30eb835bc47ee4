"""gateway.http.admin: the request-log and audit-trail scans run off the event loop, so other
requests are served while a large file is read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response

from gateway.http import admin
from gateway.http.admin import AdminAPI
from gateway.pipeline.services import Services
from gateway.reload import Reloader


class Scan:
    """A scan that ends only when the event loop tells it to: were it run on the loop, the loop
    could never tell it, and it fails after `timeout_s`."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.timeout_s = timeout_s

    def wait(self) -> None:
        self.started.set()
        assert self.release.wait(self.timeout_s), "the scan ran on (and blocked) the event loop"


def request(path: str) -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": []}
    )


def api(tmp_path: Path, audit_read: Callable[[float], Iterator[dict[str, object]]]) -> AdminAPI:
    config = SimpleNamespace(logging=SimpleNamespace(path=tmp_path / "requests.jsonl"))
    services = SimpleNamespace(runtime=SimpleNamespace(config=config), state=None)
    reloader = SimpleNamespace(audit=SimpleNamespace(read=audit_read))
    return AdminAPI(cast(Services, services), cast(Reloader, reloader))


async def answered_while_scanning(
    scan: Scan, handler: Callable[[Request], Awaitable[Response]], path: str
) -> Response:
    task = asyncio.ensure_future(handler(request(path)))
    assert await asyncio.to_thread(scan.started.wait, scan.timeout_s)
    scan.release.set()  # the loop is free while the scan runs
    return await task


def test_usage_scans_the_request_log_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan = Scan()

    def usage_from_log(
        path: Path, since: float, key: str | None, team: str | None
    ) -> dict[str, int]:
        scan.wait()
        return {"requests": 7}

    monkeypatch.setattr(admin, "usage_from_log", usage_from_log)
    handler = api(tmp_path, lambda since: iter(())).usage
    response = asyncio.run(answered_while_scanning(scan, handler, "/admin/usage"))
    assert orjson.loads(response.body)["requests"] == 7


def test_audit_reads_the_trail_off_the_event_loop(tmp_path: Path) -> None:
    scan = Scan()

    def read(since: float) -> Iterator[dict[str, object]]:
        scan.wait()
        yield {"ts": since, "action": "reload"}

    handler = api(tmp_path, read).audit
    response = asyncio.run(answered_while_scanning(scan, handler, "/admin/audit"))
    assert [entry["action"] for entry in orjson.loads(response.body)["entries"]] == ["reload"]
