"""How long a config with prompts takes to load beside a full request log: the prompts'
immutability check reads which prompt versions the log's records used (docs/prompts.md).

    python loadtests/config_load.py [--mb 300] [--rounds 3] [--appended 1000]

Writes a config with one prompt file and a request log of `--mb` MB (the log and rotated files
of 100 MB, the default rotation) whose every record used a prompt version (the worst case: each
line is parsed), then, in each round, times `load_config` in a new Python process (the time of
the call, not the interpreter's start) as a process starts:

    no marks      the marks kept beside the log (`<log>.prompt-versions`) deleted first: the
                  whole log is read (what every start did before the marks)
    marks         the marks as the last load left them: nothing new to read
    appended      `--appended` records written to the log first: only they are read

and, in the last process, a second load (a reload: that process's memory of the read). Prints
each run, then the median and spread (min-max) of each over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from gateway.config.read_marks import marks_path

FILE_BYTES = 100 * 1024 * 1024
PROMPT = """\
[[versions]]
version = 1
messages = [{ role = "system", content = "You answer questions about {{product}}." }]
"""
# Times one load in a new process; with a second argument, a reload after it.
TIMED = """
import sys, time
from pathlib import Path
from gateway.config import load_config
config = Path(sys.argv[1])
began = time.perf_counter()
load_config(config)
first = time.perf_counter() - began
began = time.perf_counter()
load_config(config)
print(first, time.perf_counter() - began)
"""


def record(number: int) -> bytes:
    """A request record about as long as the gateway's, which used a prompt version (of a
    prompt since deleted: its hash binds nothing, so the load never refuses)."""
    fields = {
        "id": f"req_{number:032x}",
        "ts": "2026-12-06T22:00:00.000000+00:00",
        "key_id": "team-a-service",
        "team": "team-a",
        "model": "gpt-4o-mini",
        "deployment": "openai-gpt-4o-mini",
        "status": 200,
        "prompt_id": "retired-bot",
        "prompt_version": number % 7 + 1,
        "prompt_alias": "production",
        "prompt_hash": f"{number % 7:064x}",
        "prompt_tokens": 212,
        "completion_tokens": 87,
        "cost_usd": 0.0000840,
        "latency_ms": 412.7,
        "upstream_ms": 410.2,
        "tags": {"feature": "support", "env": "prod"},
        "padding": "x" * 320,
    }
    return orjson.dumps(fields) + b"\n"


def write_setup(root: Path, megabytes: int) -> tuple[Path, Path]:
    """The config and its request log (`megabytes` MB over the log and its rotated files)."""
    (root / "prompts").mkdir()
    (root / "prompts" / "support-bot.toml").write_text(PROMPT)
    config = root / "config.toml"
    config.write_text('[logging]\npath = "logs/requests.jsonl"\n')
    log = root / "logs" / "requests.jsonl"
    log.parent.mkdir()
    left, number = megabytes * 1024 * 1024, 0
    files = -(-left // FILE_BYTES)
    for index in range(files - 1, -1, -1):  # the oldest rotated file first
        path = log if index == 0 else log.with_name(f"{log.name}.{index}")
        size = min(left, FILE_BYTES)
        lines = []
        written = 0
        while written < size:
            line = record(number)
            lines.append(line)
            written += len(line)
            number += 1
        path.write_bytes(b"".join(lines))
        left -= written
    return config, log


def timed_load(config: Path) -> tuple[float, float]:
    """(the first load's seconds, a reload's) in a new process."""
    out = subprocess.run(
        [sys.executable, "-c", TIMED, str(config)], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--appended", type=int, default=1000)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"no marks": [], "marks": [], "appended": [], "reload": []}
    with tempfile.TemporaryDirectory() as directory:
        config, log = write_setup(Path(directory), args.mb)
        print(f"request log: {args.mb} MB of records that used a prompt version")
        for round_number in range(1, args.rounds + 1):
            marks_path(log).unlink(missing_ok=True)
            runs["no marks"].append(timed_load(config)[0])
            runs["marks"].append(timed_load(config)[0])
            with log.open("ab") as handle:
                handle.write(b"".join(record(n) for n in range(args.appended)))
            appended, reload = timed_load(config)
            runs["appended"].append(appended)
            runs["reload"].append(reload)
            print(
                f"round {round_number}: "
                + ", ".join(f"{name} {times[-1] * 1000:.1f} ms" for name, times in runs.items())
            )
    print("\nload_config, median (min-max) over the rounds:")
    for name, times in runs.items():
        low, high = min(times) * 1000, max(times) * 1000
        print(f"  {name:<9} {statistics.median(times) * 1000:9.1f} ms ({low:.1f}-{high:.1f})")


if __name__ == "__main__":
    main()
