"""Small inline-SVG charts for the HTML report: grouped bars, a histogram and a heatmap.

Hand-written SVG keeps the report one self-contained file with no plotting dependency. Every label is
escaped; sizes are in user units and the charts scale with the page (``viewBox``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626", "#ca8a04", "#4b5563")


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"


def grouped_bars(
    groups: Sequence[str], series: Mapping[str, Sequence[float | None]], *, title: str, max_value: float = 1.0
) -> str:
    """Horizontal bars: one block per group, one bar per series (values 0..max_value; None is skipped)."""
    names = list(series)
    bar_h, gap, label_w, width = 12, 10, 150, 640
    plot_w = width - label_w - 60
    block_h = bar_h * len(names) + gap
    legend_h = 20
    height = legend_h + block_h * len(groups) + 30
    parts = [
        f'<svg class="chart bars" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    for i, name in enumerate(names):
        x = label_w + i * 120
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="13">{escape(name)}</text>')
    for g, group in enumerate(groups):
        top = legend_h + g * block_h + 6
        parts.append(f'<text x="4" y="{top + block_h / 2}" dominant-baseline="middle">{escape(group)}</text>')
        for i, name in enumerate(names):
            value = series[name][g]
            y = top + i * bar_h
            if value is None:
                parts.append(f'<text x="{label_w + 2}" y="{y + bar_h - 2}" fill="#888">n/a</text>')
                continue
            w = max(0.0, min(1.0, value / max_value)) * plot_w
            parts.append(
                f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(group)} {escape(name)}: '
                f"{_fmt(value)}</title></rect>"
            )
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}">{_fmt(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(samples: Sequence[float], *, title: str, unit: str = "ms", bins: int = 20) -> str:
    """A histogram of `samples`; the last bin holds everything above the 99th percentile."""
    width, height, pad = 640, 220, 40
    parts = [
        f'<svg class="chart histogram" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    if not samples:
        parts.append(f'<text x="{pad}" y="{height / 2}">no samples</text></svg>')
        return "".join(parts)
    ordered = sorted(samples)
    top = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    low = ordered[0]
    span = max(top - low, 1e-9)
    counts = [0] * bins
    for s in ordered:
        index = min(bins - 1, int((s - low) / span * bins)) if s <= top else bins - 1
        counts[index] += 1
    peak = max(counts)
    plot_w, plot_h = width - 2 * pad, height - 2 * pad
    bar_w = plot_w / bins
    for i, count in enumerate(counts):
        h = count / peak * plot_h if peak else 0
        x = pad + i * bar_w
        lo = low + span * i / bins
        hi = low + span * (i + 1) / bins
        parts.append(
            f'<rect class="bin" x="{x:.1f}" y="{pad + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{_fmt(lo)}–{_fmt(hi)} {unit}: {count}</title></rect>'
        )
    parts.append(
        f'<line x1="{pad}" y1="{pad + plot_h}" x2="{pad + plot_w}" y2="{pad + plot_h}" stroke="#333"/>'
    )
    parts.append(f'<text x="{pad}" y="{height - 12}">{_fmt(low)} {unit}</text>')
    parts.append(
        f'<text x="{pad + plot_w}" y="{height - 12}" text-anchor="end">{_fmt(top)} {unit} (p99)</text>'
    )
    parts.append(f'<text x="{pad}" y="{pad - 8}">{peak} max per bin, n={len(ordered)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heatmap(table: Mapping[str, Mapping[str, int]], *, title: str) -> str:
    """A confusion matrix: rows expected, columns observed, cell shade by row share."""
    rows = list(table)
    cols = sorted({c for r in table.values() for c in r} | set(rows))
    cell, label_w, label_h = 46, 130, 110
    width = label_w + cell * len(cols) + 10
    height = label_h + cell * len(rows) + 10
    parts = [
        f'<svg class="chart heatmap" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    for j, col in enumerate(cols):
        x = label_w + j * cell + cell / 2
        parts.append(
            f'<text x="{x}" y="{label_h - 6}" transform="rotate(-45 {x} {label_h - 6})">{escape(col)}</text>'
        )
    for i, row in enumerate(rows):
        total = sum(table[row].values()) or 1
        y = label_h + i * cell
        parts.append(f'<text x="4" y="{y + cell / 2}" dominant-baseline="middle">{escape(row)}</text>')
        for j, col in enumerate(cols):
            count = table[row].get(col, 0)
            share = count / total
            colour = "22,163,74" if col == row else "220,38,38"
            x = label_w + j * cell
            parts.append(
                f'<rect class="cell" x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="rgba({colour},{0.08 + 0.85 * share:.2f})"><title>expected {escape(row)}, '
                f"got {escape(col)}: {count}</title></rect>"
            )
            if count:
                parts.append(
                    f'<text x="{x + cell / 2 - 1}" y="{y + cell / 2}" text-anchor="middle" '
                    f'dominant-baseline="middle">{count}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)
