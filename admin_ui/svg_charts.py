"""Small server-rendered SVG charts for the back office's report pages (no JavaScript, no CDN).

The CLI draws its charts with matplotlib (:mod:`lms_core.reports.charts`), which takes about a
second to import: far too slow for a page. These charts are a few dozen SVG elements written
as text from the report's rows. Each one says what it shows in a ``<title>`` and a ``<desc>``
(read by screen readers, ``role="img"``), a visible title, axis labels with units, and a
``<title>`` on every bar (the exact value on hover). The drawing is in a ``viewBox`` that
scales to its container, so a chart fits a 390 px phone as well as a desktop column; label
sizes are chosen for that narrowest width, and labels that would overlap are thinned out
(week axes) or put on a line of their own (horizontal bars), never drawn over each other.

Colours, sizes and fonts are SVG presentation attributes, not ``style`` attributes, so the
charts need nothing from the Content-Security-Policy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

from markupsafe import Markup, escape

#: The drawing's width in SVG units; a 390 px phone shows it at about 0.75 scale.
WIDTH = 480
#: Text sizes in SVG units (about 10 px and 12 px on a phone).
FONT, TITLE_FONT = 13, 15
#: Average width of a character at ``FONT`` (system sans-serif), for fitting labels.
CHAR = 7.2
BLUE, ORANGE, GREY, INK, MUTED, RULE = (
    "#2b6cb0",
    "#dd6b20",
    "#a0aec0",
    "#1a202c",
    "#4a5568",
    "#e2e8f0",
)
_ids = count(1)


@dataclass(frozen=True)
class Series:
    """One set of bars: its name (the legend), a value per label (None: no value), a colour."""

    name: str
    values: Sequence[float | int | None]
    color: str = BLUE


def short(text: Any, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: max(width - 1, 1)] + "…"


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above ``value`` (an axis' top); 1 for 0."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-9:
            return float(step * power)
    return float(10 * power)  # pragma: no cover  # the loop ends at 10 x power


def _number(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "no value"
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{text}{unit}"


def _open(title: str, desc: str, height: float) -> tuple[list[str], str]:
    n = next(_ids)
    ident = f"lms-chart-{n}"
    parts = [
        f'<svg class="lms-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} '
        f'{height:.0f}" width="100%" role="img" aria-labelledby="{ident}-t {ident}-d" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}" fill="{INK}">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(desc)}</desc>',
        f'<text x="0" y="{TITLE_FONT + 2}" font-size="{TITLE_FONT}" font-weight="600">'
        f"{escape(short(title, int(WIDTH / (CHAR * 1.15))))}</text>",
    ]
    return parts, ident


def _close(parts: list[str]) -> Markup:
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text went through escape()


def _empty(title: str, desc: str, message: str) -> Markup:
    parts, _ = _open(title, desc, 80)
    parts.append(f'<text x="0" y="56" fill="{MUTED}">{escape(message)}</text>')
    return _close(parts)


def _legend(parts: list[str], series: Sequence[Series], y: float) -> None:
    x = 0.0
    for s in series:
        parts.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" fill="{s.color}"/>')
        parts.append(f'<text x="{x + 16:.1f}" y="{y}">{escape(s.name)}</text>')
        x += 16 + len(s.name) * CHAR + 18


def bar_chart(
    *,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    unit: str = "",
    empty: str = "Nothing to show in this period.",
) -> Markup:
    """Vertical bars, grouped by label (weeks, months, score bands, stars).

    At most as many labels are written under the axis as fit side by side (every second,
    third... label otherwise, always the first); every bar keeps its exact value in its
    ``<title>``.
    """
    if not labels or not series:
        return _empty(title, desc, empty)
    legend = len(series) > 1
    top = 34 + (28 if legend else 0)
    left, right, plot_h, bottom = 46, 6, 170, 44
    height = top + plot_h + bottom
    parts, _ = _open(title, desc, height)
    if legend:
        _legend(parts, series, 44)
    plot_w = WIDTH - left - right
    values = [v for s in series for v in s.values if v is not None]
    ceiling = nice_ceiling(max(values, default=0))
    base = top + plot_h
    # Gridlines at whole steps where the top allows it (0, 1, ..., 5 learners, not 1.25).
    steps = next((n for n in (4, 5, 2, 1) if (ceiling / n).is_integer()), 4)
    for k in range(steps + 1):
        tick = ceiling * k / steps
        y = base - plot_h * k / steps
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{RULE if k else MUTED}"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">'
            f"{escape(_number(tick))}</text>"
        )
    parts.append(
        f'<text transform="translate(11 {base - plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" fill="{MUTED}">{escape(y_label)}</text>'
    )
    slot = plot_w / len(labels)
    bar = max(min(slot * 0.8 / len(series), 40.0), 1.0)
    widest = max(len(label) for label in labels) * CHAR + 8
    step = max(1, math.ceil(widest / slot))
    for i, label in enumerate(labels):
        x0 = left + i * slot + (slot - bar * len(series)) / 2
        for j, s in enumerate(series):
            value = s.values[i]
            h = 0.0 if value is None else plot_h * float(value) / ceiling
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{base - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{s.color}"><title>{escape(label)}: '
                f"{escape(s.name)} {escape(_number(value, unit))}</title></rect>"
            )
        centre = left + (i + 0.5) * slot
        if i % step == 0 and centre + widest / 2 <= WIDTH:  # the last may not fit: left out
            parts.append(
                f'<text x="{centre:.1f}" y="{base + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'fill="{MUTED}">{escape(x_label)}</text>'
    )
    return _close(parts)


def hbar_chart(
    *,
    title: str,
    desc: str,
    labels: Sequence[str],
    values: Sequence[float | int | None],
    x_label: str,
    unit: str = "%",
    maximum: float | None = 100.0,
    colors: Sequence[str] | None = None,
    notes: Sequence[str] | None = None,
    empty: str = "Nothing to show.",
) -> Markup:
    """Horizontal bars, one per row (lessons of a funnel, questions): each label on a line
    of its own above its bar, its value (and ``notes``, e.g. "12 of 40") at the right end of
    that line, the label cut short to leave room for it: nothing runs into anything at any
    width. Bars span the whole width (a grey track shows the rest up to ``maximum``)."""
    if not labels:
        return _empty(title, desc, empty)
    row_h, top = 40, 30
    height = top + row_h * len(labels) + 30
    parts, _ = _open(title, desc, height)
    numbers = [float(v) for v in values if v is not None]
    ceiling = maximum if maximum is not None else nice_ceiling(max(numbers, default=0))
    for i, label in enumerate(labels):
        y = top + i * row_h
        value = values[i]
        w = 0.0 if value is None else WIDTH * min(float(value), ceiling) / ceiling
        color = colors[i] if colors else BLUE
        shown = _number(value, unit) + (f" · {notes[i]}" if notes else "")
        room = int((WIDTH - len(shown) * CHAR - 12) / CHAR)
        parts.append(f'<text x="0" y="{y + 14}">{escape(short(label, max(room, 8)))}</text>')
        parts.append(
            f'<text x="{WIDTH}" y="{y + 14}" text-anchor="end" fill="{MUTED}">'
            f"{escape(shown)}</text>"
        )
        parts.append(
            f'<rect x="0" y="{y + 19}" width="{WIDTH}" height="14" fill="{RULE}"/>'
            f'<rect x="0" y="{y + 19}" width="{w:.1f}" height="14" fill="{color}">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>"
        )
    parts.append(f'<text x="0" y="{height - 6}" fill="{MUTED}">{escape(x_label)}</text>')
    return _close(parts)
