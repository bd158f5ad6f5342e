"""Small SVG charts drawn on the server for the console (no chart library, no script)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["views_per_day"]

WIDTH, HEIGHT = 720, 180
_LEFT, _BOTTOM, _TOP = 36, 24, 12


def views_per_day(days: Sequence[tuple[str, int, int]]) -> str:
    """An SVG bar chart of plays per day: ``days`` are (``YYYY-MM-DD``, plays, seconds).

    Each bar has a ``<title>`` (the day, plays and minutes watched); the axis names the first,
    middle and last day and the highest count. Everything drawn is escaped.
    """
    peak = max((plays for _, plays, _ in days), default=0)
    top = max(peak, 1)
    inner_w, inner_h = WIDTH - _LEFT - 8, HEIGHT - _BOTTOM - _TOP
    step = inner_w / max(len(days), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="plays per day">',
        f'<line x1="{_LEFT}" y1="{HEIGHT - _BOTTOM}" x2="{WIDTH - 8}" y2="{HEIGHT - _BOTTOM}" '
        'class="axis"/>',
        f'<text x="{_LEFT - 6}" y="{HEIGHT - _BOTTOM}" class="label" text-anchor="end">0</text>',
    ]
    if peak:
        parts.append(
            f'<text x="{_LEFT - 6}" y="{_TOP + 4}" class="label" text-anchor="end">{peak}</text>'
        )
    for index, (day, plays, seconds) in enumerate(days):
        height = inner_h * plays / top
        x = _LEFT + index * step + step * 0.15
        y = HEIGHT - _BOTTOM - height
        tip = escape(f"{day}: {plays} plays, {round(seconds / 60)} min watched")
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
            f'height="{height:.1f}"><title>{tip}</title></rect>'
        )
    for index in sorted({0, len(days) // 2, len(days) - 1}):
        if 0 <= index < len(days):
            x = _LEFT + index * step + step / 2
            label = escape(days[index][0][5:])
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 6}" class="label" text-anchor="middle">'
                f"{label}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
