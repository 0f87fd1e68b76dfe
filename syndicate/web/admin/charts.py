"""Small charts drawn on the server as inline SVG: no script, no library, readable without CSS.

The SVG scales with its box (a viewBox and width 100%), so it never widens a phone screen; each bar
carries a <title> (a hover tooltip and what a screen reader announces) and the figure a text
summary, so the numbers are there for people who cannot see the bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from syndicate.storage.admin_read import DayCount

WIDTH, HEIGHT = 480, 170
TOP, BOTTOM, LEFT, RIGHT = 12, 24, 34, 6


def _nice_max(value: int) -> int:
    """The axis maximum: the smallest of 1, 2, 5 × 10^k at or above `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def deliveries_chart(days: Sequence[DayCount]) -> str:
    """Stacked bars per day, sent below failed, as an <svg> element (safe to embed as it is)."""
    top = _nice_max(max((d.sent + d.failed for d in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="Email deliveries per day, last {len(days)} days" preserveAspectRatio="xMidYMid meet">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>',
        f'<text class="label" x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{top}</text>',
        f'<text class="label" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar) / 2
        sent_h = plot_h * day.sent / top
        failed_h = plot_h * day.failed / top
        tip = escape(f"{day.day.isoformat()}: {day.sent} sent, {day.failed} failed")
        parts.append(f'<g><title>{tip}</title>')
        if day.sent:
            parts.append(f'<rect class="sent" x="{x:.1f}" y="{TOP + plot_h - sent_h:.1f}" '
                         f'width="{bar:.1f}" height="{sent_h:.1f}"/>')
        if day.failed:
            parts.append(f'<rect class="failed" x="{x:.1f}" y="{TOP + plot_h - sent_h - failed_h:.1f}" '
                         f'width="{bar:.1f}" height="{failed_h:.1f}"/>')
        parts.append("</g>")
        if i % 7 == 0 or i == len(days) - 1:
            parts.append(f'<text class="label" x="{x + bar / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
                         f'{day.day.strftime("%m-%d")}</text>')
    parts.append("</svg>")
    return "".join(parts)
