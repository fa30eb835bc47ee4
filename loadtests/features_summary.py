"""The summary table of issue 22: each production variant's added latency and throughput loss
beside the default pipeline, with PASS / MISS per target and the run's noise.

    variant | added p50 chat / stream, c=1 | chat req/s c=64 (loss vs default) | targets

Added p50 = the variant's p50 - the direct call's (same round medians as the section tables).
The noise is the direct baseline's spread over the rounds, (max - min) / median, of its p50 at
c = 1 and of its req/s at c = 64: a difference smaller than that is not a measured difference.
"""

from __future__ import annotations

from collections.abc import Callable

from features_rounds import Figure, Sample

# (variant, label, its baseline for the deltas, the issue's targets)
ROWS = (
    ("gateway", "default", None),
    ("limits", "key limits in memory (never bind)", "gateway"),
    ("limits+redis", "key limits on Redis (auto client: RESP)", "gateway"),
    # The reference client beside auto's pick; the target is auto's (docs/operations.md).
    ("limits+redis-py", "key limits on Redis (redis-py)", "gateway"),
    ("pii-off", "200-token PII prompt, no guardrail", "gateway"),
    ("pii", "PII guardrail (patterns), prompt with digits", "pii-off"),
)
# Per variant: (what, limit, how to read it from the row) -> PASS when value <= limit.
TARGETS: dict[str, list[tuple[str, float, str]]] = {
    "gateway": [("added p50 chat <= 0.4 ms", 0.4, "chat"), ("stream <= 0.4 ms", 0.4, "stream")],
    "limits": [("<= +0.05 ms over default", 0.05, "over"), ("<= 10 % loss", 10.0, "loss")],
    "limits+redis": [("<= +0.2 ms over default", 0.2, "over"), ("<= 20 % loss", 20.0, "loss")],
    "pii": [("CPU <= 0.3 ms over no guardrail", 0.3, "cpu")],
}

Cell = tuple[str, str, int]


def _spread(values: list[float]) -> float:
    ordered = sorted(values)
    middle = ordered[len(ordered) // 2]
    return (ordered[-1] - ordered[0]) / middle * 100 if middle else 0.0


def noise(figures: dict[Cell, Figure]) -> str:
    parts = []
    readings: list[tuple[str, int, str, Callable[[Sample], float]]] = [
        ("chat", 1, "p50", lambda s: s.result.p50_ms),
        ("stream", 1, "p50", lambda s: s.result.p50_ms),
        ("chat", 64, "req/s", lambda s: s.result.ok_rps),
    ]
    for mode, concurrency, what, read in readings:
        direct = figures.get(("direct", mode, concurrency))
        if direct is not None:
            rounds = [read(s) for s in direct.samples]
            parts.append(
                f"{mode} c={concurrency} {what} {_spread(rounds):.1f} % ({len(rounds)} rounds)"
            )
    return "noise (direct baseline's spread over the rounds): " + ", ".join(parts)


def issue_table(figures: dict[Cell, Figure]) -> list[str]:
    """The lines of the table, for the variants this run measured."""

    def get(
        name: str, mode: str, concurrency: int, attr: Callable[[Figure], float]
    ) -> float | None:
        fig = figures.get((name, mode, concurrency))
        return attr(fig) if fig is not None else None

    def added(name: str, mode: str) -> float | None:
        p50 = get(name, mode, 1, lambda f: f.p50_ms)
        direct = get("direct", mode, 1, lambda f: f.p50_ms)
        return None if p50 is None or direct is None else p50 - direct

    header = f"{'variant':46} {'added p50 chat / stream c=1':>28} {'chat req/s c=64 (loss)':>24}"
    lines = [header + "  targets"]
    for name, label, baseline in ROWS:
        chat, stream = added(name, "chat"), added(name, "stream")
        rps = get(name, "chat", 64, lambda f: f.rps)
        if chat is None and stream is None and rps is None:
            continue
        base_rps = get(baseline or "gateway", "chat", 64, lambda f: f.rps)
        loss = (1 - rps / base_rps) * 100 if rps and base_rps and baseline else None
        values = {"chat": chat, "stream": stream, "loss": loss}
        if baseline is not None:
            base_chat, base_stream = added(baseline, "chat"), added(baseline, "stream")
            overs = [
                v - b
                for v, b in ((chat, base_chat), (stream, base_stream))
                if v is not None and b is not None
            ]
            values["over"] = max(overs) if overs else None
            cpu = get(name, "chat", 1, lambda f: f.cpu_us)
            base_cpu = get(baseline, "chat", 1, lambda f: f.cpu_us)
            values["cpu"] = (
                (cpu - base_cpu) / 1000 if cpu is not None and base_cpu is not None else None
            )
        verdicts = []
        for what, limit, key in TARGETS.get(name, []):
            value = values.get(key)
            verdicts.append(
                f"{what}: " + ("n/a" if value is None else "PASS" if value <= limit else "MISS")
            )
        latency = " / ".join("-" if v is None else f"{v:+.2f} ms" for v in (chat, stream))
        throughput = "-" if rps is None else f"{rps:,.0f}"
        if loss is not None:
            throughput += f" ({-loss:+.0f} % vs {baseline})"
        lines.append(f"{label:46} {latency:>28} {throughput:>24}  {'; '.join(verdicts)}")
    lines.append(noise(figures))
    return lines
