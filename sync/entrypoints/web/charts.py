"""Server-rendered SVG bar charts: no script, no external asset, readable at 360 px and on A4."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

# Coordinate width of every chart. On a 360 px phone a chart gets about 300 px, so it is
# drawn 1:1 and the 13-unit labels stay 13 px; on wider screens and paper CSS caps the width.
WIDTH = 300
DARK = "#0b5c4a"
LIGHT = "#cfe3dc"
INK = "#1d1d1b"
_ids = count(1)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str  # the number as people read it, next to the bar
    whole: float | None = None  # drawn light behind the bar (e.g. all events vs. with icon)


def _svg(title: str, height: int, body: list[str], desc: str) -> Markup:
    n = next(_ids)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="chart{n}t chart{n}d" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart{n}t">{escape(title)}</title><desc id="chart{n}d">{escape(desc)}</desc>'
        + "".join(body) + "</svg>")


def hbars(title: str, bars: list[Bar], *, maximum: float | None = None) -> Markup:
    """One bar per row, its label above it and its number after it (or inside when long)."""
    row, bar_h = 34, 14
    top = max([maximum or 0.0] + [b.value for b in bars] + [b.whole or 0.0 for b in bars]) or 1.0
    body: list[str] = []
    for i, b in enumerate(bars):
        y = i * row
        body.append(f'<text x="0" y="{y + 13}" font-size="13" fill="{INK}">'
                    f'{escape(b.label)}</text>')
        if b.whole:
            body.append(f'<rect x="0" y="{y + 17}" width="{WIDTH * b.whole / top:.1f}" '
                        f'height="{bar_h}" fill="{LIGHT}"/>')
        width = WIDTH * b.value / top
        body.append(f'<rect x="0" y="{y + 17}" width="{width:.1f}" height="{bar_h}" '
                    f'fill="{DARK}"/>')
        text_w = 6.6 * len(b.text) + 6
        # After the longer of the two bars, so the number never sits on the light one.
        after = max(width, WIDTH * (b.whole or 0.0) / top)
        if after + text_w <= WIDTH:
            body.append(f'<text x="{after + 4:.1f}" y="{y + 28}" font-size="11" fill="{INK}">'
                        f'{escape(b.text)}</text>')
        elif width < text_w:  # no room anywhere on the line: under the label, right
            body.append(f'<text x="{WIDTH:.1f}" y="{y + 13}" font-size="11" fill="{INK}" '
                        f'text-anchor="end">{escape(b.text)}</text>')
        else:  # no room after the bar: inside it, white on dark
            body.append(f'<text x="{width - 4:.1f}" y="{y + 28}" font-size="11" fill="#fff" '
                        f'text-anchor="end">{escape(b.text)}</text>')
    desc = "; ".join(f"{b.label}: {b.text}" for b in bars)
    return _svg(title, max(row, row * len(bars)), body, desc)


def columns(title: str, bars: list[Bar]) -> Markup:
    """Vertical bars in time order (months); labels thin out when there are many."""
    height, base, top_pad = 190, 160, 18
    n = max(1, len(bars))
    slot = WIDTH / n
    width = slot * 0.7
    top = max([b.value for b in bars] + [b.whole or 0.0 for b in bars]) or 1.0
    every = 1 if n <= 12 else -(-n // 12)
    body = [f'<line x1="0" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="#8a877d" '
            f'stroke-width="1"/>']
    for i, b in enumerate(bars):
        x = i * slot + (slot - width) / 2
        h = (base - top_pad) * b.value / top
        if b.whole:
            hw = (base - top_pad) * b.whole / top
            body.append(f'<rect x="{x:.1f}" y="{base - hw:.1f}" width="{width:.1f}" '
                        f'height="{hw:.1f}" fill="{LIGHT}"/>')
        body.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{width:.1f}" height="{h:.1f}" '
                    f'fill="{DARK}"/>')
        mid = x + width / 2
        peak = max(h, (base - top_pad) * (b.whole or 0.0) / top)  # above the taller bar
        if n <= 18:
            body.append(f'<text x="{mid:.1f}" y="{base - peak - 4:.1f}" font-size="10" '
                        f'text-anchor="middle" fill="{INK}">{escape(b.text)}</text>')
        if i % every == 0:
            body.append(f'<text x="{mid:.1f}" y="{base + 16}" font-size="11" '
                        f'text-anchor="middle" fill="{INK}">{escape(b.label)}</text>')
    desc = "; ".join(f"{b.label}: {b.text}" for b in bars)
    return _svg(title, height, body, desc)
