"""Runs one request-log scan (`usage_scan`) in a child process, bounded: at most one at a time
per worker (a second waits for the first), and at most `timeout_s` from the call, waiting
included; a scan past it, or one whose caller went away (a drain, a closed connection), is
killed."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson

from gateway.observability.usage_scan import UsageQuery

TIMEOUT_S = 60.0
COMMAND = (sys.executable, "-m", "gateway.observability.usage_scan")


class UsageScanFailed(Exception):
    """The scan did not answer: `timed_out` says whether it ran out of time."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class UsageScanner:
    """The scans of one worker, one at a time, each in a child process."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._one_at_a_time = asyncio.Lock()

    async def scan(self, query: UsageQuery) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.timeout_s), self._one_at_a_time:
                return await _run(query)
        except TimeoutError:
            message = f"the request log scan did not end within {self.timeout_s:g} s"
            raise UsageScanFailed(message, timed_out=True) from None


async def _run(query: UsageQuery) -> dict[str, Any]:
    child = await asyncio.create_subprocess_exec(
        *COMMAND,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await child.communicate(orjson.dumps(query))
    finally:
        if child.returncode is None:  # cancelled, or out of time: the scan goes too
            child.kill()
            await asyncio.shield(child.wait())
    if child.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise UsageScanFailed(f"the request log scan failed ({child.returncode}): {last[0]}")
    result: dict[str, Any] = orjson.loads(out)
    return result
