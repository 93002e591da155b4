"""The digest's small charts: Unicode sparklines for Markdown, inline SVG for HTML.

Written by hand, not by a plotting library, so the same numbers always give the same
bytes (no ids, dates or hash salts in the output) and the HTML needs nothing beside it.
Every chart repeats numbers that the text next to it also states: a mail client that drops
SVG loses no information.
"""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"
ACCENT = "#0b6bcb"
MUTED = "#b8c2cc"
MARK = "#d1242f"


def spark_text(values: Sequence[float | None]) -> str:
    """`values` as Unicode blocks, scaled to the largest; None (no data) as a space."""
    top = max((v for v in values if v is not None), default=0) or 1
    return "".join(" " if v is None else BLOCKS[round(v / top * (len(BLOCKS) - 1))]
                   for v in values)


def _n(x: float) -> str:
    """A coordinate with at most one decimal, without a trailing '.0'."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def spark_svg(values: Sequence[float | None], highlight: int, label: str,
              width: int = 176, height: int = 36) -> str:
    """Vertical bars, one per value; the last `highlight` bars in the accent colour (the
    recent window), the others muted; the last bar outlined (the digest's week)."""
    top = max((v for v in values if v is not None), default=0) or 1
    n = len(values)
    step = width / n
    bar = step * 0.72
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}">']
    for i, v in enumerate(values):
        h = 1.5 if not v else max(1.5, (height - 2) * v / top)
        colour = ACCENT if i >= n - highlight else MUTED
        parts.append(f'<rect x="{_n(i * step)}" y="{_n(height - h)}" width="{_n(bar)}" '
                     f'height="{_n(h)}" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def bar_svg(value: float, mean: float | None, top: float, width: int = 150,
            height: int = 14) -> str:
    """One horizontal bar (`value`) with a red tick at `mean`, both scaled to `top`."""
    scale = (width - 2) / (top or 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="this week vs mean">',
             f'<rect x="0" y="2" width="{_n(max(value * scale, 0 if not value else 1))}" '
             f'height="{height - 4}" fill="{ACCENT}"/>']
    if mean is not None:
        x = _n(min(mean * scale, width - 1.5))
        parts.append(f'<rect x="{x}" y="0" width="1.5" height="{height}" fill="{MARK}"/>')
    parts.append("</svg>")
    return "".join(parts)
