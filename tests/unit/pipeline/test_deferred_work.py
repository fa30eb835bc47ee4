"""`RequestContext.defer`: work the response needs but the upstream call does not (the rate
headers) runs at the request's next await, and at the latest when the response starts."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from gateway.http.responses import gateway_headers
from gateway.pipeline.context import Endpoint, RequestContext


def _context() -> RequestContext:
    runtime: Any = None  # not read by defer or gateway_headers
    return RequestContext(
        Endpoint("/v1/chat/completions", "chat", "openai"), runtime, "req_1", 0.0, 0.0, {}
    )


async def test_deferred_work_runs_at_the_next_await_in_order() -> None:
    ctx = _context()
    done: list[str] = []
    ctx.defer(lambda: done.append("first"))
    ctx.defer(lambda: done.append("second"))
    assert done == []  # not on the caller's path
    await asyncio.sleep(0)
    assert done == ["first", "second"]
    ctx.run_deferred()
    assert done == ["first", "second"]  # each runs once


async def test_the_response_headers_include_work_no_await_has_run_yet() -> None:
    ctx = _context()
    ctx.defer(lambda: ctx.response_headers.update({"x-ratelimit-remaining-requests": "49"}))
    headers = dict(gateway_headers(ctx))  # e.g. an answer built without awaiting anything
    assert headers[b"x-ratelimit-remaining-requests"] == b"49"
    await asyncio.sleep(0)  # the scheduled run finds nothing left to do
    assert ctx.response_headers == {"x-ratelimit-remaining-requests": "49"}


async def test_failing_work_is_logged_and_the_rest_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ctx = _context()
    done: list[str] = []

    def fail() -> None:
        raise RuntimeError("boom")

    ctx.defer(fail)
    ctx.defer(lambda: done.append("after"))
    with caplog.at_level(logging.ERROR, logger="gateway"):
        gateway_headers(ctx)
    assert done == ["after"]
    assert "deferred work of request req_1 failed" in caplog.text
