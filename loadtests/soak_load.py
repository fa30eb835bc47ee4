"""The soak's load: a mix of cache hits and misses with a PII prompt, sent by wrk in windows of an
exact number of requests, each answered before the window ends.

Every request carries the ~200-token prompt of `loadtests/guardrails.py` (an email, a phone
number, an IP address, dates), so the PII guardrail really scans each one. Per wrk thread the
requests cycle through four kinds:

    chat, same prompt          -> a cache hit (after the first)
    stream, same prompt        -> a cache hit on the stream's own entry (its prompt differs
                                  from the chat's by a sentence)
    chat, prompt + unique tag  -> a miss (stored, so the cache fills and then evicts)
    stream, prompt + unique tag -> a miss

The unique tag is made of letters (window, thread, counter in base 26), so the PII guardrail
finds nothing in it and cannot make two misses equal by redacting their difference.

Exact counts: wrk has no "stop after N requests" that leaves nothing in flight (a thread stopped
at its Nth answer abandons the requests its other connections have sent, which the gateway then
records as 499). Here the script's `delay()` grants each connection its next request until the
thread's quota is used, then parks the connection on a one-hour timer; the thread stops itself
at its last answer and writes a marker file, on which the runner sends wrk SIGINT (wrk's main
thread otherwise sleeps out its `-d`). The delay is not part of the measured latency: wrk starts
a request's clock when it writes it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from guardrails import PROMPT as PII_PROMPT
from harness import MODEL, cpu_affinity
from load_common import HEADERS
from loadgen import LoadResult, run_process, wrk_result

_TAG = "SOAKTAGPLACEHOLDER"
KINDS = ("chat hit", "stream hit", "chat miss", "stream miss")


def _body(stream: bool, tagged: bool) -> str:
    # The cache key leaves out `stream`: a stream with the chat's prompt would be answered from
    # the chat's entry (a synthesised 3-event stream), so the streams say so in their prompt.
    content = PII_PROMPT + (" Please stream the answer." if stream else "")
    content += f" Reference {_TAG}." if tagged else ""
    body: dict[str, object] = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    return json.dumps(body)


def soak_bodies() -> dict[str, bytes]:
    """The chat and the stream that become hits: the check before the run sends each once."""
    return {"chat": _body(False, False).encode(), "stream": _body(True, False).encode()}


def _lua_string(text: str) -> str:
    level = "=" * 4
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def _lua_kind(stream: bool, tagged: bool) -> str:
    head, _, tail = _body(stream, tagged).partition(_TAG)
    return "{" + _lua_string(head) + (", " + _lua_string(tail) if tagged else "") + "}"


def soak_script(window: int, limit_per_thread: int, marker_prefix: str) -> str:
    """The wrk script of one window: `limit_per_thread` requests per thread, nothing left in
    flight; `done()` prints the usual LOADTEST_RESULT line and `SOAK_SENT <requests written>`."""
    kinds = ", ".join(
        _lua_kind(stream, tagged) for tagged in (False, True) for stream in (False, True)
    )
    headers = "\n".join(
        f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in HEADERS.items()
    )
    return f"""wrk.method = "POST"
{headers}
local kinds = {{{kinds}}}
local limit = {int(limit_per_thread)}
local window = {int(window)}
local marker = {_lua_string(marker_prefix)}
granted, sent, answered = 0, 0, 0
local threads, next_id = {{}}, 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function letters(n)
  local s = ""
  repeat
    local d = n % 26
    s = string.char(97 + d) .. s
    n = (n - d) / 26
  until n == 0
  return s
end

function delay()
  if granted < limit then
    granted = granted + 1
    return 0
  end
  return 3600000
end

-- wrk calls request() once more on thread 0, before the run, to check the script: that call
-- follows no grant and its request is never sent, so it is not counted.
function request()
  local kind = kinds[(sent % #kinds) + 1]
  if granted > sent then sent = sent + 1 end
  local body = kind[1]
  if kind[2] then
    body = body .. letters(window) .. " " .. letters(id) .. " " .. letters(sent) .. kind[2]
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  answered = answered + 1
  if answered >= limit then
    local f = io.open(marker .. id, "w")
    f:write(tostring(answered))
    f:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("sent") end
  io.write(string.format("SOAK_SENT %d\\n", total))
  local e = summary.errors
  io.write(string.format("LOADTEST_RESULT %d %d %.3f %.3f %.3f %.3f %d %d %d %d %d\\n",
    summary.requests, summary.duration,
    latency:percentile(50.0), latency:percentile(99.0), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("SOAK_P999 %.3f\\n", latency:percentile(99.9) / 1000.0))
end
"""


@dataclass
class Window:
    """One window's load as wrk saw it."""

    result: LoadResult
    sent: int  # requests written by wrk (= answered when nothing was lost)
    p999_ms: float


def run_window(
    url: str,
    window: int,
    requests: int,
    concurrency: int,
    threads: int,
    cpus: set[int] | None,
    tick: Callable[[], None] | None = None,
    stall_s: float = 120.0,
) -> Window:
    """Send exactly `requests` (rounded up to a multiple of `threads`) at `concurrency` and wait
    for every answer. `tick()` runs every 0.1 s (the soak follows RSS there). A window not done
    after `stall_s` plus 1 s per 100 requests (a lost request never gets its answer) is stopped
    and reported as it stands: its unanswered requests then show in the summary."""
    threads = max(1, min(threads, concurrency))
    per_thread = math.ceil(requests / threads)
    with tempfile.TemporaryDirectory(prefix="loadtest-soak-") as tmp:
        marker = os.path.join(tmp, "done-")
        script = Path(tmp) / "soak.lua"
        script.write_text(soak_script(window, per_thread, marker))
        args = ["wrk", f"-t{threads}", f"-c{concurrency}", "-d3600s", "--timeout=10s"]
        args += ["-s", str(script), url]
        started = time.monotonic()

        def finished() -> bool:
            if tick is not None:
                tick()
            done = sum(1 for name in os.listdir(tmp) if name.startswith("done-"))
            return done == threads or time.monotonic() - started > stall_s + requests / 100

        with cpu_affinity(cpus):
            returncode, stdout, stderr = run_process(args, finished, 3600.0)
    result = wrk_result(returncode, stdout, stderr)
    return Window(result, int(_field(stdout, "SOAK_SENT")), float(_field(stdout, "SOAK_P999")))


def _field(stdout: str, name: str) -> str:
    for line in stdout.splitlines():
        if line.startswith(name + " "):
            return line.split()[1]
    raise RuntimeError(f"wrk printed no {name} line:\n{stdout}")
