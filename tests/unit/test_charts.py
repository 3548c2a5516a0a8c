"""The SVG charts: bars in proportion, numbers readable, text escaped, no script."""

from __future__ import annotations

import re

from sync.entrypoints.web import charts


def rects(svg: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]


def test_horizontal_bars_are_proportional_and_escaped():
    svg = str(charts.hbars("Types <test>", [
        charts.Bar("Ontmoeting", 121, "121 · 54,26 %"),
        charts.Bar("Buddy & co", 5, "5 · 2,24 %"),
        charts.Bar("Andere", 0, "0 · 0,00 %"),
    ]))
    assert svg.startswith("<svg") and "<script" not in svg
    assert rects(svg) == [300.0, round(300 * 5 / 121, 1), 0.0]
    assert "Buddy &amp; co" in svg and "Types &lt;test&gt;" in svg
    assert 'viewBox="0 0 300 102"' in svg  # three rows of 34
    # The long bar's number sits inside it in white; the short ones after the bar.
    assert re.search(r'fill="#fff" text-anchor="end">121 · 54,26 %', svg)
    assert re.search(r'<text x="16.4" y="62"[^>]*>5 · 2,24 %', svg)


def test_a_bar_with_a_whole_puts_its_number_after_the_light_bar():
    svg = str(charts.hbars("Dekking", [charts.Bar("Ieper", 16, "16 van 42", whole=42),
                                        charts.Bar("Heuvelland", 24, "24 van 71", whole=71)]))
    widths = rects(svg)
    assert widths[:2] == [round(300 * 42 / 71, 1), round(300 * 16 / 71, 1)]
    x = float(re.search(r'<text x="([\d.]+)"[^>]*>16 van 42', svg).group(1))
    assert x > widths[0]  # not on top of the light bar


def test_columns_label_every_month_and_show_the_numbers_above_the_taller_bar():
    bars = [charts.Bar(m, n, str(w), whole=w) for m, n, w in
            (("jan", 25, 25), ("feb", 22, 47), ("mrt", 38, 84))]
    svg = str(charts.columns("Per maand", bars))
    for month in ("jan", "feb", "mrt"):
        assert f">{month}</text>" in svg
    y84 = float(re.search(r'y="([\d.]+)"[^>]*>84</text>', svg).group(1))
    assert y84 == 160 - (160 - 18) - 4
    many = str(charts.columns("Twee jaar", [charts.Bar(f"m{i}", i, str(i)) for i in range(24)]))
    assert many.count("font-size=\"11\"") == 12  # every other month labelled
    assert "font-size=\"10\"" not in many  # no numbers on 24 thin columns
