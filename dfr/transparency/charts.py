"""Small bar charts as SVG text, rendered on the server (no script, no style attribute, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

WIDTH = 640
HEIGHT = 220
_MARGIN_LEFT = 40
_MARGIN_BOTTOM = 40
_MARGIN_TOP = 16


def bar_chart(
    title: str, bars: Sequence[tuple[str, float]], *, unit: str = "", empty: str = "No data yet"
) -> str:
    """A labelled bar chart; every string is escaped, colours are presentation attributes."""
    label = escape(title)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" aria-label="{label}">'
        f"<title>{label}</title>"
    )
    if not bars:
        return (
            f'{head}<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" '
            f'fill="#555">{escape(empty)}</text></svg>'
        )
    top = max(value for _, value in bars) or 1.0
    plot_w = WIDTH - _MARGIN_LEFT - 10
    plot_h = HEIGHT - _MARGIN_TOP - _MARGIN_BOTTOM
    step = plot_w / len(bars)
    parts = [head]
    base_y = HEIGHT - _MARGIN_BOTTOM
    parts.append(
        f'<line x1="{_MARGIN_LEFT}" y1="{base_y}" x2="{WIDTH - 10}" y2="{base_y}" stroke="#333"/>'
    )
    for i, (name, value) in enumerate(bars):
        h = plot_h * value / top
        x = _MARGIN_LEFT + i * step + step * 0.1
        parts.append(
            f'<rect x="{x:.1f}" y="{base_y - h:.1f}" width="{step * 0.8:.1f}" height="{h:.1f}" '
            f'fill="#2b6cb0"><title>{escape(name)}: {value:g}{escape(unit)}</title></rect>'
        )
        parts.append(
            f'<text x="{x + step * 0.4:.1f}" y="{base_y - h - 3:.1f}" text-anchor="middle" '
            f'font-size="11">{value:g}</text>'
        )
        parts.append(
            f'<text x="{x + step * 0.4:.1f}" y="{base_y + 14}" text-anchor="middle" '
            f'font-size="10">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
