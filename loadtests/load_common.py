"""What overhead.py and features.py share: the request bodies, the load runner, the answer checks
before measuring, one measurement, the load flags, and the text of both reports (header lines,
aligned tables, targets).

Imported by those scripts after they put this folder on sys.path (as they import harness).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from harness import GATEWAY_KEY, MODEL, Proc, cpu_affinity
from loadgen import LoadResult, have_wrk, run_python, run_wrk

MB = 1024 * 1024
CHAT_PATH = "/v1/chat/completions"
PROMPT = [{"role": "user", "content": "Tell me something about load testing."}]
RESPONSES_PATH = "/v1/responses"
RESPONSES_INPUT = PROMPT[0]["content"]
BODIES = {
    "chat": json.dumps({"model": MODEL, "messages": PROMPT}).encode(),
    "stream": json.dumps({"model": MODEL, "messages": PROMPT, "stream": True}).encode(),
    # The Responses API (overhead.py's Responses section): the same prompt, passed through.
    "responses": json.dumps({"model": MODEL, "input": RESPONSES_INPUT}).encode(),
    "responses-stream": json.dumps(
        {"model": MODEL, "input": RESPONSES_INPUT, "stream": True}
    ).encode(),
}
# The endpoint each mode posts to (chat completions unless named here).
PATHS = {"responses": RESPONSES_PATH, "responses-stream": RESPONSES_PATH}
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {GATEWAY_KEY}"}


def spread(values: Sequence[float]) -> float:
    """(max - min) / median, as a fraction: how far a measurement's rounds are from each other."""
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def say(text: str = "") -> None:
    print(text, flush=True)


def write_report(path: Path, report: dict[str, Any]) -> None:
    """A load test's figures as JSON at `path` (`--json`), said on the console."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    say(f"results written to {path}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


class Load:
    """Runs one load against a URL with the chosen generator and settings."""

    def __init__(self, generator: str, wrk_threads: int, cpus: set[int] | None) -> None:
        self.generator = generator
        self.wrk_threads = wrk_threads
        self.cpus = cpus

    def run(
        self,
        url: str,
        bodies: Sequence[bytes],
        concurrency: int,
        duration_s: float,
        limit: int | None = None,
        tick: Callable[[], bool] | None = None,
    ) -> LoadResult:
        """`limit`: stop after that many requests (then `tick` must return True once they are
        done, so wrk can be told to stop); `tick` is called every 0.1 s while the load runs."""
        with cpu_affinity(self.cpus):
            if self.generator == "wrk":
                threads = 1 if concurrency == 1 else self.wrk_threads
                return run_wrk(
                    url, bodies, HEADERS, concurrency, duration_s, threads, limit, tick=tick
                )
            return run_python(
                url, bodies, HEADERS, concurrency, duration_s, limit_total=limit, tick=tick
            )


def complete_answer(mode: str, status: int, text: str) -> bool:
    """A 200 and a whole answer: a chat completion with content, or a stream of at least 20
    content chunks ending in `data: [DONE]`."""
    if status != 200:
        return False
    if mode == "chat":
        try:
            return bool(json.loads(text)["choices"][0]["message"]["content"])
        except (ValueError, LookupError, TypeError):
            return False
    chunks = [
        line for line in text.splitlines() if line.startswith("data: ") and "[DONE]" not in line
    ]
    return "data: [DONE]" in text and len(chunks) >= 20


def post(client: httpx.Client, base_url: str, body: bytes) -> httpx.Response:
    """POST one chat request and read the whole answer (the whole stream for SSE)."""
    with client.stream("POST", base_url + CHAT_PATH, content=body) as response:
        response.read()
    return response


def check_answers(base_url: str, label: str, bodies: dict[str, bytes] = BODIES) -> None:
    """One chat and one stream before measuring: a 200 and a complete answer, or stop here."""
    with httpx.Client(timeout=10.0, headers=HEADERS) as client:
        for mode in ("chat", "stream"):
            response = post(client, base_url, bodies[mode])
            if not complete_answer(mode, response.status_code, response.text):
                raise SystemExit(
                    f"{label}: {mode} request failed: {response.status_code} {response.text[:500]}"
                )


def measure(
    load: Load,
    base_url: str,
    body: bytes,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    watched: Proc,
    path: str = CHAT_PATH,
) -> tuple[LoadResult, float]:
    """One measurement: `warmup_s` of unmeasured load, then `duration_s` of measured load on
    base_url's `path` (chat completions); returns the result and the CPU time `watched` (the
    gateway) spent per request meanwhile, in microseconds."""
    url = base_url + path
    if warmup_s > 0:
        load.run(url, [body], concurrency, warmup_s)
    cpu_before = watched.cpu_seconds()
    result = load.run(url, [body], concurrency, duration_s)
    cpu_us = (watched.cpu_seconds() - cpu_before) * 1e6 / max(1, result.requests)
    return result, cpu_us


def progress(mode: str, concurrency: int, target: str, r: LoadResult, width: int = 7) -> str:
    """The line printed after each measurement."""
    return (
        f"{mode:<6} c={concurrency:<3} {target:<{width}} {r.ok_rps:>9,.0f} req/s  "
        f"p50 {r.p50_ms:.3f} ms  p99 {r.p99_ms:.3f} ms  errors {r.errors}"
    )


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every timed load test takes (overhead.py and features.py)."""
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per measurement (default 10)"
    )
    parser.add_argument("--quick", action="store_true", help="3 s per measurement")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="seconds of unmeasured load before each one"
    )
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads at c>1 (c=1 always uses 1)"
    )
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 64]
    )
    parser.add_argument("--modes", type=lambda s: s.split(","), default=["chat", "stream"])
    parser.add_argument(
        "--pin", action="store_true", help="gateway on CPU 0; mock and load generator on CPU 1"
    )


def check_load_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Resolve `--generator auto` and refuse what this machine cannot do."""
    if args.generator == "auto":
        args.generator = "wrk" if have_wrk() else "python"
    elif args.generator == "wrk" and not have_wrk():
        parser.error("wrk is not installed (apt-get install -y wrk)")
    if args.pin and (os.cpu_count() or 1) < 2:
        parser.error("--pin needs at least 2 CPUs")
    unknown = [mode for mode in args.modes if mode not in BODIES]
    if unknown:
        parser.error(f"--modes takes {', '.join(BODIES)} (got {', '.join(unknown)})")


def fmt_ms(value: float) -> str:
    return f"{value:.3f}"


def fmt_signed(value: float) -> str:
    return f"{value:+.3f}"


def align(rows: list[list[str]], left: int = 1) -> str:
    """Rows of cells as aligned columns, the first row a header underlined with dashes; the first
    `left` columns are left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cols = [
            row[i].ljust(widths[i]) if i < left else row[i].rjust(widths[i])
            for i in range(len(row))
        ]
        lines.append("  ".join(cols).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_targets(targets: list[dict[str, Any]]) -> str:
    width = max(len(t["name"]) for t in targets)
    return "\n".join(
        f"{t['name'].ljust(width)}  {t['target']:>12}  {t['measured']:>14}  {t['result']}"
        for t in targets
    )


def cpu_note(pin: bool, plan: str | None = None) -> str:
    """`plan`: how the CPUs were pinned (cpus.py's note), when not the 1-worker default below."""
    cpus = os.cpu_count() or 0
    if pin and plan:
        return f"{cpus} CPUs, {plan}."
    if pin:
        return (
            f"{cpus} CPUs, pinned: gateway on CPU 0; mock provider and load generator on CPU 1. "
            "The gateway has one core to itself; the upstream and the client share the other."
        )
    return (
        f"{cpus} CPUs shared (unpinned) by the load generator, the mock provider and the gateway: "
        "the figures understate the gateway's own ceiling, "
        "since at c=64 all three compete for the cores."
    )


def say_header(
    title: str, today: dt.datetime, machine: dict[str, Any], args: argparse.Namespace
) -> None:
    """The first lines of a run: what, when, on which machine, with which load generator."""
    say(f"llm-gateway {title}  {today:%Y-%m-%d %H:%M %Z}")
    say(
        f"machine: {machine['nproc']} CPUs, {machine['cpu_model']}, {machine['memory_gb']} GB, "
        f"Linux {machine['kernel']}, Python {machine['python']}"
    )
    gen_desc = (
        f"wrk ({machine['wrk']}), -t1 at c=1, -t{args.wrk_threads} otherwise"
        if args.generator == "wrk"
        else "python (asyncio + httpx, one connection per virtual user)"
    )
    say(f"load generator: {gen_desc}; gateway --workers {getattr(args, 'workers', 1)}")
    say(cpu_note(args.pin, getattr(args, "cpu_plan", None)))
