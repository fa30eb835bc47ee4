"""The measuring of features.py: every target in every (mode, concurrency) cell, round after
round in a rotating order, with what the gateway counted meanwhile; and the medians over the
rounds."""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass, field

from features_targets import Counters, Target, describe
from features_variants import body_for
from load_common import Load, measure, progress, say
from loadgen import LoadResult
from machine import cpu_pressure


@dataclass
class Sample:
    """One measurement of one target."""

    result: LoadResult
    cpu_us: float  # CPU time of the measured process (gateway, or the mock when direct) / request
    counted: dict[str, float] = field(default_factory=dict)  # counter deltas (warm-up included)


@dataclass
class Figure:
    """The medians of one target's samples in one cell over the rounds."""

    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    errors: int
    samples: list[Sample]


def run_rounds(
    args: argparse.Namespace, load: Load, targets: list[Target], counters: Counters
) -> dict[tuple[str, str, int], list[Sample]]:
    duration = 3.0 if args.quick else args.duration
    width = max(len(t.name) for t in targets)
    samples: dict[tuple[str, str, int], list[Sample]] = {}
    for round_no in range(args.rounds):
        say(f"round {round_no + 1} of {args.rounds}: {cpu_pressure()}")
        # Each round starts the cell with a different target, so none is always measured first.
        order = targets[round_no % len(targets) :] + targets[: round_no % len(targets)]
        for mode in args.modes:
            for concurrency in args.concurrency:
                for target in order:
                    before = counters.read(target)
                    result, cpu_us = measure(
                        load,
                        target.proc.url,
                        body_for(target.name, mode),
                        concurrency,
                        duration,
                        args.warmup,
                        target.proc,
                    )
                    after = counters.read(target)
                    counted = {k: after[k] - before.get(k, 0.0) for k in after}
                    sample = Sample(result, cpu_us, counted)
                    samples.setdefault((target.name, mode, concurrency), []).append(sample)
                    evidence = describe(counted)
                    say(
                        f"  {progress(mode, concurrency, target.name, result, width)}  "
                        f"CPU {cpu_us:,.0f} us/req" + (f"  [{evidence}]" if evidence else "")
                    )
    return samples


def figure(samples: list[Sample]) -> Figure:
    return Figure(
        rps=statistics.median(s.result.ok_rps for s in samples),
        p50_ms=statistics.median(s.result.p50_ms for s in samples),
        p99_ms=statistics.median(s.result.p99_ms for s in samples),
        cpu_us=statistics.median(s.cpu_us for s in samples),
        errors=sum(s.result.errors for s in samples),
        samples=samples,
    )
