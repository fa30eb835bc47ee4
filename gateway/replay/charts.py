"""Inline SVG charts for the HTML report: histograms of one or more series on shared bins.

Pure string building, no dependency; every label goes through `html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 36


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    values: Sequence[float]


def _domain(series: Sequence[Series]) -> tuple[float, float]:
    values = [v for s in series for v in s.values]
    low, high = min(values), max(values)
    if high == low:
        high = low + (abs(low) * 0.1 or 1.0)
    return low, high


def _counts(values: Sequence[float], low: float, high: float, count: int) -> list[int]:
    counts = [0] * count
    width = (high - low) / count
    for value in values:
        index = min(count - 1, max(0, int((value - low) / width)))
        counts[index] += 1
    return counts


def histogram_svg(
    title: str,
    series: Sequence[Series],
    bins: int = 20,
    fmt: Callable[[float], str] = lambda v: f"{v:.3g}",
    domain: tuple[float, float] | None = None,
) -> str:
    """An SVG histogram, one colour per series, bars side by side within each bin."""
    present = [s for s in series if s.values]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        ' role="img" class="chart">'
    )
    head += f"<title>{escape(title)}</title>"
    head += f'<text x="{LEFT}" y="16" class="chart-title">{escape(title)}</text>'
    if not present:
        return (
            head
            + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text></svg>'
        )
    low, high = domain or _domain(present)
    counts = [_counts(s.values, low, high, bins) for s in present]
    peak = max(max(c) for c in counts) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bin_w = plot_w / bins
    bar_w = bin_w * 0.9 / len(present)
    parts = [head]
    base_y = TOP + plot_h
    parts.append(
        f'<line x1="{LEFT}" y1="{base_y}" x2="{WIDTH - RIGHT}" y2="{base_y}" class="axis"/>'
    )
    parts.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base_y}" class="axis"/>')
    for tick in _ticks(peak):
        y = base_y - tick / peak * plot_h
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick}</text>'
        )
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>'
        )
    for s_index, (s, bin_counts) in enumerate(zip(present, counts)):
        for b, n in enumerate(bin_counts):
            if n == 0:
                continue
            h = n / peak * plot_h
            x = LEFT + b * bin_w + bin_w * 0.05 + s_index * bar_w
            start = low + b * (high - low) / bins
            tip = f"{s.label}: {n} in [{fmt(start)}, {fmt(start + (high - low) / bins)})"
            parts.append(
                f'<rect x="{x:.1f}" y="{base_y - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{escape(s.color)}"><title>{escape(tip)}</title></rect>'
            )
    for i in range(0, bins + 1, max(1, bins // 4)):
        x = LEFT + i * bin_w
        value = low + i * (high - low) / bins
        parts.append(
            f'<text x="{x:.1f}" y="{base_y + 16}" text-anchor="middle" class="tick">'
            f"{escape(fmt(value))}</text>"
        )
    legend_x = WIDTH - RIGHT - 120 * len(present)
    for i, s in enumerate(present):
        x = legend_x + i * 120
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{escape(s.color)}"/>')
        parts.append(
            f'<text x="{x + 16}" y="16" class="legend">{escape(s.label)} (n={len(s.values)})</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _ticks(peak: int) -> list[int]:
    step = max(1, math.ceil(peak / 4))
    return list(range(0, peak + 1, step))
