"""gateway.http.admin: the request-log and audit-trail scans run off the event loop, so other
requests are served while a large file is read; the request log's parse runs in a child
process, so it does not hold the worker's GIL either."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import ServiceUnavailable
from gateway.http.admin import AdminAPI, usage_query
from gateway.observability.usage_process import UsageScanner
from gateway.observability.usage_scan import scan_usage
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


def api(
    tmp_path: Path,
    audit_read: Callable[[float], Iterator[dict[str, object]]],
    scanner: UsageScanner | None = None,
) -> AdminAPI:
    logging = SimpleNamespace(path=tmp_path / "requests.jsonl", backups=0)
    config = SimpleNamespace(logging=logging)
    services = SimpleNamespace(runtime=SimpleNamespace(config=config), state=None)
    reloader = SimpleNamespace(audit=SimpleNamespace(read=audit_read))
    return AdminAPI(cast(Services, services), cast(Reloader, reloader), scanner)


async def answered_while_scanning(
    scan: Scan, handler: Callable[[Request], Awaitable[Response]], path: str
) -> Response:
    task = asyncio.ensure_future(handler(request(path)))
    assert await asyncio.to_thread(scan.started.wait, scan.timeout_s)
    scan.release.set()  # the loop is free while the scan runs
    return await task


def test_audit_reads_the_trail_off_the_event_loop(tmp_path: Path) -> None:
    scan = Scan()

    def read(since: float) -> Iterator[dict[str, object]]:
        scan.wait()
        yield {"ts": since, "action": "reload"}

    handler = api(tmp_path, read).audit
    response = asyncio.run(answered_while_scanning(scan, handler, "/admin/audit"))
    assert [entry["action"] for entry in orjson.loads(response.body)["entries"]] == ["reload"]


RECORDS = 200_000


def write_big_log(path: Path) -> None:
    now = time.time()
    line = orjson.dumps(
        {"id": "r", "ts": now, "key_id": "k", "team": "t", "model": "m", "status": 200}
        | {"prompt_tokens": 3, "completion_tokens": 2, "cost_usd": 0.001, "latency_ms": 1.5}
    )
    path.write_bytes(b"\n".join([line] * RECORDS) + b"\n")


async def scan_with_heartbeat(
    handler: Callable[[Request], Awaitable[Response]],
) -> tuple[Response, int, float]:
    """The answer, how often the loop turned while it was pending, and the CPU time this
    process spent on other threads than the loop's meanwhile."""
    task = asyncio.ensure_future(handler(request("/admin/usage")))
    process, loop_thread = time.process_time(), time.thread_time()
    beats = 0
    while not task.done():
        beats += 1
        await asyncio.sleep(0)
    others = (time.process_time() - process) - (time.thread_time() - loop_thread)
    return task.result(), beats, others


def test_usage_parses_the_request_log_in_a_child_process(tmp_path: Path) -> None:
    """Parsed in a worker thread (as it was), the log held the GIL away from the event loop for
    most of the scan: the CPU of the parse was this process's, on another thread. Now the loop
    turns freely while a child process parses."""
    write_big_log(tmp_path / "requests.jsonl")
    started = time.process_time()
    query = usage_query(tmp_path / "requests.jsonl", 0, 0.0, None, None, None)
    assert scan_usage(query)["requests"] == RECORDS
    parse_cpu = time.process_time() - started
    handler = api(tmp_path, lambda since: iter(())).usage
    response, beats, others = asyncio.run(scan_with_heartbeat(handler))
    assert orjson.loads(response.body)["requests"] == RECORDS
    assert beats >= 100  # the loop kept turning: a child process starts in no fewer
    assert others < parse_cpu / 4, (others, parse_cpu)


def test_usage_groups_and_totals_come_from_one_scan(tmp_path: Path) -> None:
    write_big_log(tmp_path / "requests.jsonl")
    query = usage_query(tmp_path / "requests.jsonl", 0, 0.0, "k", "t", "model")
    result = scan_usage(query)
    assert result["requests"] == RECORDS and result["by"] == ["model"]
    assert [group["model"] for group in result["groups"]] == ["m"]


def test_a_scan_out_of_time_answers_503_and_is_stopped(tmp_path: Path) -> None:
    write_big_log(tmp_path / "requests.jsonl")
    handler = api(tmp_path, lambda since: iter(()), UsageScanner(timeout_s=0.0)).usage
    with pytest.raises(ServiceUnavailable) as raised:
        asyncio.run(handler(request("/admin/usage")))
    assert raised.value.code == "usage_scan_timeout"
