"""Before/after in one run: a load test of two source trees, interleaved, with the run's noise.

    python loadtests/compare.py --before DIR [--after DIR] [--rounds 3] [--script overhead]
                                [--json PATH] -- [arguments of the load test]

Runs `loadtests/<script>.py --json ...` (overhead or features) from each tree in turn, `--rounds`
times, alternating which goes first (before, after; after, before; ...), so a slow minute of the
machine falls on both. Each run uses its own tree's code: its load test script and, through
PYTHONPATH, its `gateway` package (the gateway and the mock provider are started with
`python -m gateway.cli`). A tree is any checkout, e.g. `git worktree add /tmp/before <rev>`.

Prints, per target (the direct call, the gateway, each feature variant), mode and concurrency,
the median requests/s and p50 latency of each side over the rounds, and the change. The noise
is the spread of the direct baseline over all runs of both sides ((max - min) / median of its
requests/s and p50): a change smaller than that is not a change.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_common import spread

HERE = Path(__file__).resolve().parent.parent
Key = tuple[str, str, int]  # (target, mode, concurrency)
# -> (requests/s, p50 ms, the gateway's CPU us per request or None where not measured)
Figures = dict[Key, tuple[float, float, float | None]]


def figures(report: dict[str, Any]) -> Figures:
    """The cells of an overhead.py or features.py report as (rps, p50, cpu) by key."""
    out: Figures = {}
    for cell in report.get("cells", []):
        mode, concurrency = str(cell["mode"]), int(cell["concurrency"])
        if "target" in cell:  # features.py: one cell per target, medians over its rounds
            median, target = cell["median"], str(cell["target"])
            cpu = median.get("cpu_us") if target != "direct" else None
            out[(target, mode, concurrency)] = (median["rps"], median["p50_ms"], cpu)
        else:  # overhead.py: the direct call and the gateway in one cell
            direct, gateway = cell["direct"], cell["gateway"]
            out[("direct", mode, concurrency)] = (direct["rps"], direct["p50_ms"], None)
            cpu = cell.get("gateway_cpu_us_per_request")
            out[("gateway", mode, concurrency)] = (gateway["rps"], gateway["p50_ms"], cpu)
    return out


def run(tree: Path, script: str, extra: Sequence[str], out: Path) -> Figures:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, str(tree / "loadtests" / f"{script}.py"), "--json", str(out)]
    print(f"$ PYTHONPATH={tree} {' '.join(command[1:])} {' '.join(extra)}", flush=True)
    subprocess.run([*command, *extra], env=env, cwd=tree, check=True, stdout=subprocess.DEVNULL)
    result: Figures = figures(json.loads(out.read_text()))
    return result


def summary(runs: dict[str, list[Figures]]) -> dict[str, Any]:
    keys = sorted({key for side in runs.values() for figs in side for key in figs})
    rows = []
    for key in keys:
        row: dict[str, Any] = {"target": key[0], "mode": key[1], "concurrency": key[2]}
        for side, results in runs.items():
            samples = [figs[key] for figs in results if key in figs]
            cpus = [s[2] for s in samples if s[2] is not None]
            row[side] = {
                "rps": statistics.median(s[0] for s in samples),
                "p50_ms": statistics.median(s[1] for s in samples),
                "cpu_us": statistics.median(cpus) if cpus else None,
                "rounds": len(samples),
            }
        rows.append(row)
    baselines = {(r["mode"], r["concurrency"]): r for r in rows if r["target"] == "direct"}
    for row in rows:
        base = baselines.get((row["mode"], row["concurrency"]))
        for side in runs:
            if base is not None and row["target"] != "direct":
                row[side]["added_p50_ms"] = row[side]["p50_ms"] - base[side]["p50_ms"]
    noise = {}
    for mode, concurrency in sorted({(k[1], k[2]) for k in keys if k[0] == "direct"}):
        direct = [figs[("direct", mode, concurrency)] for side in runs.values() for figs in side]
        noise[f"{mode} c={concurrency}"] = {
            "rps_spread": spread([d[0] for d in direct]),
            "p50_spread": spread([d[1] for d in direct]),
        }
    return {"rows": rows, "noise": noise}


def show(result: dict[str, Any]) -> None:
    print("\nmedians over the rounds (before -> after):")
    for row in result["rows"]:
        before, after = row["before"], row["after"]
        change = (after["rps"] - before["rps"]) / before["rps"] if before["rps"] else 0.0
        added = ""
        if "added_p50_ms" in before:
            added = f" (added {before['added_p50_ms']:.3f} -> {after['added_p50_ms']:.3f})"
        cpu = ""
        if before["cpu_us"] is not None and after["cpu_us"] is not None:
            cpu = f"   CPU {before['cpu_us']:.0f} -> {after['cpu_us']:.0f} us/request"
        print(
            f"  {row['target']:<14} {row['mode']:<6} c={row['concurrency']:<3} "
            f"{before['rps']:>9,.0f} -> {after['rps']:>9,.0f} req/s ({change:+.1%})   "
            f"p50 {before['p50_ms']:.3f} -> {after['p50_ms']:.3f} ms{added}{cpu}"
        )
    print("noise (the direct baseline's spread over every run, both sides):")
    for cell, spreads in result["noise"].items():
        print(f"  {cell:<12} req/s {spreads['rps_spread']:.1%}   p50 {spreads['p50_spread']:.1%}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the tree to compare against")
    parser.add_argument("--after", type=Path, default=HERE, help="default: this tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--script", choices=["overhead", "features"], default="overhead")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("extra", nargs="*", help="arguments of the load test (after --)")
    args = parser.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[Figures]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="llm-gateway-compare-") as tmp:
        for round_no in range(args.rounds):
            order = ["before", "after"] if round_no % 2 == 0 else ["after", "before"]
            for side in order:
                out = Path(tmp) / f"{side}-{round_no}.json"
                runs[side].append(run(trees[side], args.script, args.extra, out))
    result = summary({"before": runs["before"], "after": runs["after"]})
    show(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
