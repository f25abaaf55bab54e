"""Charts drawn on the server as inline SVG: they need no script, print, scale to any width,
and carry a text description for screen readers. A chart is a line of minute values, the
baseline band (mean ± 2 standard deviations) behind it, and anomalous minutes marked with a
ring and a label in the title (so colour is not the only signal)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

BAND_SIGMAS = 2.0


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime
    value: float | None
    mean: float | None = None
    std: float | None = None
    anomalous: bool = False


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:.1f}%"
    if unit == "ms":
        return f"{value:.0f} ms"
    return f"{value:.0f}"


def line_chart(
    samples: Sequence[Sample],
    *,
    title: str,
    unit: str,
    start: datetime,
    end: datetime,
    highlight: tuple[datetime, datetime | None] | None = None,
    width: int = 720,
    height: int = 200,
) -> Markup:
    """An SVG chart of `samples` between `start` and `end`; `highlight` shades a span (the
    incident)."""
    pad_left, pad_bottom, pad_top = 56, 22, 8
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    span = max((end - start).total_seconds(), 1.0)
    highs = [s.value for s in samples if s.value is not None]
    highs += [s.mean + BAND_SIGMAS * s.std for s in samples if s.mean is not None and s.std]
    top = max(highs, default=0.0) * 1.1 or 1.0

    def x(at: datetime) -> float:
        return pad_left + plot_w * min(max((at - start).total_seconds() / span, 0.0), 1.0)

    def y(value: float) -> float:
        return pad_top + plot_h * (1 - min(max(value / top, 0.0), 1.0))

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="none">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 8}" '
        f'y2="{pad_top + plot_h}"/>',
        f'<text class="tick" x="{pad_left - 4}" y="{pad_top + 10}" text-anchor="end">'
        f"{escape(_fmt(top, unit))}</text>",
        f'<text class="tick" x="{pad_left - 4}" y="{pad_top + plot_h}" text-anchor="end">'
        f"{escape(_fmt(0, unit))}</text>",
        f'<text class="tick" x="{pad_left}" y="{height - 4}">{start:%H:%M}</text>',
        f'<text class="tick" x="{width - 8}" y="{height - 4}" text-anchor="end">{end:%H:%M}'
        " UTC</text>",
    ]
    if highlight is not None:
        left, right = x(highlight[0]), x(highlight[1] or end)
        parts.append(
            f'<rect class="incident-span" x="{left:.1f}" y="{pad_top}" '
            f'width="{max(right - left, 2):.1f}" height="{plot_h}"><title>incident</title></rect>'
        )
    banded = [s for s in samples if s.mean is not None]
    if banded:
        upper = [f"{x(s.at):.1f},{y(s.mean + BAND_SIGMAS * (s.std or 0)):.1f}" for s in banded]  # type: ignore[operator]
        lower = [
            f"{x(s.at):.1f},{y(max(s.mean - BAND_SIGMAS * (s.std or 0), 0)):.1f}"  # type: ignore[operator]
            for s in reversed(banded)
        ]
        parts.append(
            f'<polygon class="band" points="{" ".join(upper + lower)}"><title>baseline '
            f"(mean ± {BAND_SIGMAS:g} standard deviations)</title></polygon>"
        )
    points = [f"{x(s.at):.1f},{y(s.value):.1f}" for s in samples if s.value is not None]
    if points:
        parts.append(f'<polyline class="series" points="{" ".join(points)}"/>')
    for s in samples:
        if s.anomalous and s.value is not None:
            parts.append(
                f'<circle class="anomaly" cx="{x(s.at):.1f}" cy="{y(s.value):.1f}" r="4">'
                f"<title>anomalous minute {s.at:%H:%M}: {escape(_fmt(s.value, unit))}</title>"
                "</circle>"
            )
    if not points:
        parts.append(
            f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">'
            "no data in this period</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(values: Sequence[float | None], *, label: str, width: int = 120) -> Markup:
    """A small line without axes; `label` names it for screen readers."""
    height = 28
    known = [v for v in values if v is not None]
    top = max(known, default=0.0) or 1.0
    step = width / max(len(values) - 1, 1)
    points = [
        f"{i * step:.1f},{height - 2 - (height - 4) * (v / top):.1f}"
        for i, v in enumerate(values)
        if v is not None
    ]
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}"><polyline points="{" ".join(points)}"/></svg>'
    )
