"""Load generators for the load tests: `wrk` (preferred) and a Python asyncio + httpx fallback.

Both send the same POST to a URL with C connections, each connection sending its next request
as soon as the previous answer has fully arrived (closed loop), and report requests/s and
latency percentiles measured to the last byte of the response (for SSE, the whole stream).

Run as a script it is the Python generator (one JSON line on stdout), so the load runs in its own
process like wrk does:

    python loadtests/loadgen.py --url URL --body-file F [--body-file G] --header 'K: V' \
        --concurrency 64 (--duration 10 | --requests 100000)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class LoadResult:
    generator: str
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: int  # non-2xx answers plus socket errors and timeouts

    @property
    def ok_rps(self) -> float:
        """Successful (2xx, complete) responses per second: what the targets count."""
        return max(0, self.requests - self.errors) / self.duration_s if self.duration_s else 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


Tick = Callable[[], bool]


def run_process(args: list[str], tick: Tick | None, deadline_s: float) -> tuple[int, str, str]:
    """Run a load generator; call `tick()` every 0.1 s while it runs (the soak samples RSS there).

    When `tick()` returns True the generator is sent SIGINT, on which wrk stops and still prints
    its summary (wrk.thread:stop() alone stops sending, but wrk then sleeps out its -d).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(args, stdout=out, stderr=err, text=True)
        interrupted = False
        deadline = time.monotonic() + deadline_s
        try:
            while True:
                try:
                    process.wait(0.1)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{args[0]} did not finish in {deadline_s:.0f} s")
                if tick is not None and tick() and not interrupted:
                    process.send_signal(signal.SIGINT)
                    interrupted = True
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        out.seek(0)
        err.seek(0)
        return int(process.returncode), out.read(), err.read()


# --------------------------------------------------------------------------- wrk


def _lua_string(text: str) -> str:
    level = "=" * 4
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


DONE_FUNCTION = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LOADTEST_RESULT %d %d %.3f %.3f %.3f %.3f %d %d %d %d %d\\n",
    summary.requests, summary.duration,
    latency:percentile(50.0), latency:percentile(99.0), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk_script(
    bodies: Sequence[bytes], headers: dict[str, str], limit_per_thread: int | None = None
) -> str:
    """A Lua script for wrk: POST `bodies` (alternating when several), print results in done().

    With `limit_per_thread`, each wrk thread stops after that many responses (the soak's fixed
    request count); that needs a response() callback, which costs wrk a little, so the timed
    runs leave it out.
    """
    lines = ['wrk.method = "POST"']
    for name, value in headers.items():
        lines.append(f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}")
    if len(bodies) == 1 and limit_per_thread is None:
        lines.append(f"wrk.body = {_lua_string(bodies[0].decode())}")
    else:
        lines.append("local bodies = {" + ", ".join(_lua_string(b.decode()) for b in bodies) + "}")
        lines.append("local sent = 0")
        lines.append("function request()")
        lines.append("  sent = sent + 1")
        lines.append("  return wrk.format(nil, nil, nil, bodies[(sent % #bodies) + 1])")
        lines.append("end")
    if limit_per_thread is not None:
        lines.append("local answered = 0")
        lines.append(f"local limit = {int(limit_per_thread)}")
        lines.append("function response(status, headers, body)")
        lines.append("  answered = answered + 1")
        lines.append("  if answered >= limit then wrk.thread:stop() end")
        lines.append("end")
    return "\n".join(lines) + "\n" + DONE_FUNCTION


def run_wrk(
    url: str,
    bodies: Sequence[bytes],
    headers: dict[str, str],
    concurrency: int,
    duration_s: float,
    threads: int = 1,
    limit_total: int | None = None,
    timeout_s: float = 10.0,
    tick: Tick | None = None,
) -> LoadResult:
    threads = max(1, min(threads, concurrency))  # wrk needs connections >= threads (-t1 -c1 at c=1)
    limit = None if limit_total is None else math.ceil(limit_total / threads)
    with tempfile.NamedTemporaryFile(
        "w", suffix=".lua", prefix="loadtest-", delete=False
    ) as handle:
        handle.write(wrk_script(bodies, headers, limit))
        script = handle.name
    try:
        args = [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, math.ceil(duration_s))}s",
            f"--timeout={int(timeout_s)}s",
            "-s",
            script,
            url,
        ]
        returncode, stdout, stderr = run_process(args, tick, duration_s + timeout_s + 60)
    finally:
        os.unlink(script)
    return wrk_result(returncode, stdout, stderr)


def wrk_result(returncode: int, stdout: str, stderr: str) -> LoadResult:
    """The LoadResult of a wrk run whose script ends with `DONE_FUNCTION` (the soak's does too)."""
    match = re.search(r"LOADTEST_RESULT ([-\d. ]+)", stdout)
    if returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({returncode}):\n{stdout}\n{stderr}")
    fields = match.group(1).split()
    requests, duration_us = int(fields[0]), int(fields[1])
    p50, p99, mean, peak = (float(x) / 1000.0 for x in fields[2:6])
    errors = sum(int(x) for x in fields[6:11])
    duration = duration_us / 1e6
    return LoadResult(
        generator="wrk",
        requests=requests,
        duration_s=round(duration, 3),
        rps=requests / duration if duration else 0.0,
        p50_ms=p50,
        p99_ms=p99,
        mean_ms=mean,
        max_ms=peak,
        errors=errors,
    )


# --------------------------------------------------------------------------- Python generator


def run_python(
    url: str,
    bodies: Sequence[bytes],
    headers: dict[str, str],
    concurrency: int,
    duration_s: float,
    limit_total: int | None = None,
    tick: Tick | None = None,
) -> LoadResult:
    """Run this file as a script in its own process (as wrk would be) and parse its JSON line."""
    files = []
    try:
        for body in bodies:
            with tempfile.NamedTemporaryFile(
                "wb", suffix=".json", prefix="loadtest-", delete=False
            ) as handle:
                handle.write(body)
                files.append(handle.name)
        args = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--url",
            url,
            "--concurrency",
            str(concurrency),
        ]
        for name in files:
            args += ["--body-file", name]
        for name, value in headers.items():
            args += ["--header", f"{name}: {value}"]
        if limit_total is not None:
            args += ["--requests", str(limit_total)]
        else:
            args += ["--duration", str(duration_s)]
        # It stops by itself (duration or request count): tick() only observes.
        observe = None if tick is None else (lambda: bool(tick()) and False)
        returncode, stdout, stderr = run_process(args, observe, duration_s + 3600)
    finally:
        for name in files:
            os.unlink(name)
    if returncode != 0:
        raise RuntimeError(f"python load generator failed ({returncode}):\n{stdout}\n{stderr}")
    data = json.loads(stdout.strip().splitlines()[-1])
    return LoadResult(**data)


def _percentile(sorted_values: Sequence[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


async def _generate(
    url: str,
    bodies: list[bytes],
    headers: dict[str, str],
    concurrency: int,
    duration_s: float,
    limit: int | None,
) -> LoadResult:
    import httpx

    latencies: list[float] = []
    errors = 0
    issued = 0
    ready = 0
    go = asyncio.Event()
    clock = {"start": 0.0, "deadline": math.inf}

    def next_body() -> bytes | None:
        nonlocal issued
        if limit is not None and issued >= limit:
            return None
        if time.perf_counter() >= clock["deadline"]:
            return None
        issued += 1
        return bodies[issued % len(bodies)]

    async def user() -> None:
        nonlocal errors, ready
        # One client (one connection) per virtual user: httpx's shared pool collapses under
        # concurrency, which would measure the load generator instead of the server. Plain http:
        # verify=False spares each client loading the CA bundle.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            limits=limits, timeout=30.0, headers=headers, verify=False
        ) as client:
            # One untimed request opens the connection; the clock starts once every user has one.
            async with client.stream("POST", url, content=bodies[0]) as response:
                await response.aread()
            ready += 1
            if ready == concurrency:
                clock["start"] = time.perf_counter()
                if limit is None:
                    clock["deadline"] = clock["start"] + duration_s
                go.set()
            await go.wait()
            while (body := next_body()) is not None:
                started = time.perf_counter()
                try:
                    async with client.stream("POST", url, content=body) as response:
                        async for _ in response.aiter_raw():
                            pass
                    if response.status_code >= 300:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(user() for _ in range(concurrency)))
    elapsed = time.perf_counter() - clock["start"]
    latencies.sort()
    ms = [x * 1000.0 for x in latencies]
    return LoadResult(
        generator="python",
        requests=len(ms),
        duration_s=round(elapsed, 3),
        rps=len(ms) / elapsed if elapsed else 0.0,
        p50_ms=_percentile(ms, 50),
        p99_ms=_percentile(ms, 99),
        mean_ms=sum(ms) / len(ms) if ms else 0.0,
        max_ms=ms[-1] if ms else 0.0,
        errors=errors,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="closed-loop HTTP POST load generator (asyncio + httpx)"
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", action="append", required=True)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=None)
    args = parser.parse_args(argv)
    bodies = [Path(name).read_bytes() for name in args.body_file]
    headers = {"content-type": "application/json"}
    for header in args.header:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    work = _generate(args.url, bodies, headers, args.concurrency, args.duration, args.requests)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print(json.dumps(result.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
