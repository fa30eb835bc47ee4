"""Interpreter opcodes per request, by function: what a variant adds to the default, counted
(not timed), so the machine's load does not move it.

`limits_cost.py --opcodes` runs each variant's requests under `OpcodeCounter` (after the
warm-up) and prints `report`'s table. The count is of Python bytecodes only: C work (uvloop,
orjson, hiredis, tiktoken's Rust core) costs time but no opcodes, and an opcode's cost ranges
from a few nanoseconds (LOAD_FAST) to microseconds (a call into C). So the count says where the
Python work is and how much of it a change removes; only a served measurement says what that is
worth (docs/performance.md, thirteenth round: 280 fewer opcodes per acquire, ~3 us in a tight
loop, were not measurable served).
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

_REPO = str(Path(__file__).resolve().parent.parent) + "/"

Tracer = Callable[[FrameType, str, Any], Any]


class OpcodeCounter:
    """Counts the opcodes run in this thread while active, per function (`file:name`, paths
    relative to the repository). A context manager; coroutines resumed inside count too."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    def _call(self, frame: FrameType, event: str, arg: Any) -> Tracer:
        frame.f_trace_opcodes = True
        code = frame.f_code
        name = f"{code.co_filename.removeprefix(_REPO)}:{code.co_name}"
        counts = self.counts

        def local(frame: FrameType, event: str, arg: Any) -> Tracer:
            if event == "opcode":
                counts[name] += 1
            return local

        return local

    def __enter__(self) -> OpcodeCounter:
        sys.settrace(self._call)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(None)


def report(per_request: Mapping[str, Mapping[str, float]], top: int) -> None:
    """Each variant's opcodes per request, and the functions whose count differs most from the
    first variant's (the baseline)."""
    names = list(per_request)
    base = per_request[names[0]]
    base_total = sum(base.values())
    print("interpreter opcodes per request (counted, not timed):")
    for name in names:
        total = sum(per_request[name].values())
        added = "" if name == names[0] else f"   added {total - base_total:+,.0f}"
        if added:
            added += f" ({(total / base_total - 1) * 100:+.1f} %)"
        print(f"  {name:<14} {total:8,.0f}{added}")
    for name in names[1:]:
        counts = per_request[name]
        functions = set(counts) | set(base)
        changed = sorted(
            ((counts.get(f, 0.0) - base.get(f, 0.0), f) for f in functions),
            key=lambda pair: -abs(pair[0]),
        )
        print(f"\n{name} vs {names[0]}, the {top} largest differences (opcodes per request):")
        for difference, function in changed[:top]:
            if difference:
                print(f"  {difference:+8.1f}  {function}")
